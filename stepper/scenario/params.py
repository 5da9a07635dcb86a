"""Which parameters a model has (docs/scenario-format.md, “Parameter names and shapes”), their shapes, and their seeded initial values."""

from __future__ import annotations

import zlib

import numpy as np

from stepper.scenario.types import ModelConfig

# how a parameter starts when the scenario does not give it: drawn, or the identity of its role
NORMAL, ZEROS, ONES = "normal", "zeros", "ones"


def n_outputs(model: ModelConfig, task_kind: str, n_classes: int, vocab_size: int) -> int:
    if task_kind == "next_token":
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

    d, f = model.d_model, model.d_ff
    specs["embed.tok"] = ((vocab_size, d), NORMAL)
    if model.positional == "learned":
        specs["embed.pos"] = ((model.max_len, d), NORMAL)
    for i in range(model.n_layers):
        p = f"layers.{i}"
        # in the order the data meets them: pre-norm normalises before each sublayer, post-norm after
        if model.norm == "pre":
            _norm(specs, f"{p}.ln1", d)
        for m in "QKV":
            specs[f"{p}.attn.W_{m}"] = ((d, d), NORMAL)
            if model.bias:
                specs[f"{p}.attn.b_{m}"] = ((d,), ZEROS)
        specs[f"{p}.attn.W_O"] = ((d, d), NORMAL)
        if model.bias:
            specs[f"{p}.attn.b_O"] = ((d,), ZEROS)
        if model.norm == "post":
            _norm(specs, f"{p}.ln1", d)
        elif model.norm == "pre":
            _norm(specs, f"{p}.ln2", d)
        specs[f"{p}.ffn.W_1"] = ((d, f), NORMAL)
        if model.bias:
            specs[f"{p}.ffn.b_1"] = ((f,), ZEROS)
        specs[f"{p}.ffn.W_2"] = ((f, d), NORMAL)
        if model.bias:
            specs[f"{p}.ffn.b_2"] = ((d,), ZEROS)
        if model.norm == "post":
            _norm(specs, f"{p}.ln2", d)
    if model.final_norm:
        specs["ln_f.gamma"] = ((d,), ONES)
        specs["ln_f.beta"] = ((d,), ZEROS)
    if not model.tie_embeddings:
        specs["head.W"] = ((d, n_out), NORMAL)
        if model.head_bias:
            specs["head.b"] = ((n_out,), ZEROS)
    return specs


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
