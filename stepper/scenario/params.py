"""Which parameters a model has (docs/scenario-format.md, “Parameter names and shapes”), their shapes, and their seeded initial values."""

from __future__ import annotations

import zlib

import numpy as np

from stepper.scenario.types import ModelConfig

# how a parameter starts when the scenario does not give it: drawn, or the identity of its role
NORMAL, ZEROS, ONES = "normal", "zeros", "ones"


def n_outputs(model: ModelConfig, task_kind: str, n_classes: int, vocab_size: int) -> int:
    if task_kind in ("next_token", "seq2seq"):  # a score for every vocabulary entry
        return vocab_size
    if task_kind == "regress":
        return model.sizes[-1] if model.sizes else 1
    return n_classes


def param_specs(model: ModelConfig, vocab_size: int, n_out: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every parameter name with its shape and default init, in the order the model uses them."""
    specs: dict[str, tuple[tuple[int, ...], str]] = {}
    if model.kind == "mlp":
        for i, (fan_in, fan_out) in enumerate(zip(model.sizes[:-1], model.sizes[1:], strict=True)):
            specs[f"layers.{i}.W"] = ((fan_in, fan_out), NORMAL)
            if model.bias:
                specs[f"layers.{i}.b"] = ((fan_out,), ZEROS)
        return specs

    d = model.d_model
    specs["embed.tok"] = ((vocab_size, model.d_tok), NORMAL)  # concat: the sinusoids fill the other d_pos columns
    if model.positional == "learned":
        specs["embed.pos"] = ((model.max_len, d), NORMAL)
    if model.kind == "seq2seq":
        # the encoder stack, its ln_f, then the decoder stack (self-attention, cross-attention, FFN), its ln_f
        _stack(specs, model, "encoder.", model.n_layers, ("attn",))
        _stack(specs, model, "decoder.", model.n_dec_layers, ("self_attn", "cross_attn"))
    else:
        _stack(specs, model, "", model.n_layers, ("attn",))
    if not model.tie_embeddings:
        specs["head.W"] = ((d, n_out), NORMAL)
        if model.head_bias:
            specs["head.b"] = ((n_out,), ZEROS)
    return specs


def _stack(specs: dict, model: ModelConfig, prefix: str, n_layers: int, attentions: tuple[str, ...]) -> None:
    """`n_layers` blocks under `prefix` (each: its attentions, then the FFN if any; sublayer k wrapped by ln{k}),
    then `ln_f` when `final_norm`."""
    d = model.d_model
    for i in range(n_layers):
        p = f"{prefix}layers.{i}"
        # `ffn: false`: attention-only blocks, so no FFN and no norm of its own
        sublayers = [*(f"{p}.{a}" for a in attentions), *([f"{p}.ffn"] if model.ffn else [])]
        for k, sub in enumerate(sublayers, start=1):
            # in the order the data meets them: pre-norm normalises before each sublayer, post-norm after
            if model.norm == "pre":
                _norm(specs, f"{p}.ln{k}", d)
            (_ffn if sub.endswith(".ffn") else _attention)(specs, model, sub)
            if model.norm == "post":
                _norm(specs, f"{p}.ln{k}", d)
    if model.final_norm:
        _norm(specs, f"{prefix}ln_f", d)


def _attention(specs: dict, model: ModelConfig, p: str) -> None:
    d = model.d_model
    for m in "QKVO":
        specs[f"{p}.W_{m}"] = ((d, d), NORMAL)
        if model.bias:
            specs[f"{p}.b_{m}"] = ((d,), ZEROS)


def _ffn(specs: dict, model: ModelConfig, p: str) -> None:
    d, f = model.d_model, model.d_ff
    specs[f"{p}.W_1"] = ((d, f), NORMAL)
    if model.bias:
        specs[f"{p}.b_1"] = ((f,), ZEROS)
    specs[f"{p}.W_2"] = ((f, d), NORMAL)
    if model.bias:
        specs[f"{p}.b_2"] = ((d,), ZEROS)


def _norm(specs: dict, name: str, d: int) -> None:
    specs[f"{name}.gamma"] = ((d,), ONES)
    specs[f"{name}.beta"] = ((d,), ZEROS)


def init_param(name: str, shape: tuple[int, ...], how: str, seed: int, std: float,
               bias_std: float = 0.0) -> np.ndarray:
    """One parameter's initial value.

    Each parameter draws from its own generator, seeded by (seed, name), so giving one
    parameter explicit values never changes what the others draw.
    """
    if how == ONES:
        return np.ones(shape)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if how == ZEROS:
        return rng.standard_normal(shape) * bias_std if bias_std else np.zeros(shape)
    return rng.standard_normal(shape) * std


def count(specs: dict[str, tuple[tuple[int, ...], str]]) -> int:
    return sum(int(np.prod(shape)) for shape, _ in specs.values())
