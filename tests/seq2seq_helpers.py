"""Seq2seq scenarios built directly (no YAML): seeded weights under exactly contract §7's names and shapes."""

from __future__ import annotations

import numpy as np
import torch

from stepper.scenario.types import ModelConfig, Scenario, TaskConfig

VOCAB = ["<pad>", "<bos>", "<eos>", "I", "love", "pizza", "me", "encanta", "la"]
SOURCE = ["I", "love", "pizza"]
TARGET = ["<bos>", "me", "encanta", "la", "pizza", "<eos>"]


def _attention(p: dict, at: str, d: int, bias: bool, rng) -> None:
    for m in "QKVO":
        p[f"{at}.W_{m}"] = rng.normal(size=(d, d)) * 0.5
        if bias:
            p[f"{at}.b_{m}"] = rng.normal(size=d) * 0.1


def _norm(p: dict, at: str, d: int, rng) -> None:
    p[f"{at}.gamma"], p[f"{at}.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1


def _ffn(p: dict, at: str, d: int, f: int, bias: bool, rng) -> None:
    p[f"{at}.W_1"], p[f"{at}.W_2"] = rng.normal(size=(d, f)) * 0.5, rng.normal(size=(f, d)) * 0.5
    if bias:
        p[f"{at}.b_1"], p[f"{at}.b_2"] = rng.normal(size=f) * 0.1, rng.normal(size=d) * 0.1


def seq2seq_params(m: ModelConfig, vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every parameter of §7 for this model, and no other, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    d, f, normed = m.d_model, m.d_ff, m.norm != "none"
    p = {"embed.tok": rng.normal(size=(vocab_size, d))}
    if m.positional == "learned":
        p["embed.pos"] = rng.normal(size=(m.max_len, d))
    for i in range(m.n_layers):
        at = f"encoder.layers.{i}"
        _attention(p, f"{at}.attn", d, m.bias, rng)
        for n in (1, 2) if normed else ():
            _norm(p, f"{at}.ln{n}", d, rng)
        _ffn(p, f"{at}.ffn", d, f, m.bias, rng)
    if m.final_norm:
        _norm(p, "encoder.ln_f", d, rng)
    for i in range(m.n_dec_layers):
        at = f"decoder.layers.{i}"
        _attention(p, f"{at}.self_attn", d, m.bias, rng)
        _attention(p, f"{at}.cross_attn", d, m.bias, rng)
        for n in (1, 2, 3) if normed else ():
            _norm(p, f"{at}.ln{n}", d, rng)
        _ffn(p, f"{at}.ffn", d, f, m.bias, rng)
    if m.final_norm:
        _norm(p, "decoder.ln_f", d, rng)
    if not m.tie_embeddings:
        p["head.W"] = rng.normal(size=(d, vocab_size))
        if m.head_bias:
            p["head.b"] = rng.normal(size=vocab_size) * 0.1
    return p


def seq2seq_scenario(source=SOURCE, target=TARGET, vocab=VOCAB, seed: int = 0, **model) -> Scenario:
    """A seq2seq Scenario; `model` overrides ModelConfig's fields (2 + 2 layers, 2 heads by default)."""
    fields = {"kind": "seq2seq", "d_model": 4, "n_heads": 2, "n_layers": 2, "n_dec_layers": 2, "d_ff": 6,
              "max_len": 8} | model
    m = ModelConfig(**fields)
    return Scenario(name="s2s", model=m, task=TaskConfig(kind="seq2seq"), vocab=list(vocab), tokens=list(target),
                    source_tokens=list(source), params=seq2seq_params(m, len(vocab), seed))


# -- our names for torch.nn's transformer layers' parameters -------------------------------------------
def attention_params(prefix: str, mha: torch.nn.MultiheadAttention):
    """(our name, torch parameter, its rows that hold it, transposed?) for one attention block:
    nn.MultiheadAttention stacks W_Q, W_K, W_V out×in in one [3D, D] `in_proj_weight`; ours are [in, out]."""
    d = mha.embed_dim
    for j, m in enumerate("QKV"):
        yield f"{prefix}.W_{m}", mha.in_proj_weight, slice(j * d, (j + 1) * d), True
        yield f"{prefix}.b_{m}", mha.in_proj_bias, slice(j * d, (j + 1) * d), False
    yield f"{prefix}.W_O", mha.out_proj.weight, slice(None), True
    yield f"{prefix}.b_O", mha.out_proj.bias, slice(None), False


def layer_params(prefix: str, layer, attentions: dict[str, str], norms: int):
    """The same for an nn.TransformerEncoderLayer / DecoderLayer: `attentions` maps our block names to its."""
    for ours, theirs in attentions.items():
        yield from attention_params(f"{prefix}.{ours}", getattr(layer, theirs))
    for n, lin in (("1", layer.linear1), ("2", layer.linear2)):
        yield f"{prefix}.ffn.W_{n}", lin.weight, slice(None), True
        yield f"{prefix}.ffn.b_{n}", lin.bias, slice(None), False
    for n in range(1, norms + 1):
        norm = getattr(layer, f"norm{n}")
        yield f"{prefix}.ln{n}.gamma", norm.weight, slice(None), False
        yield f"{prefix}.ln{n}.beta", norm.bias, slice(None), False


def copy_into(pairs, params: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        for name, param, rows, transposed in pairs:
            value = torch.from_numpy(params[name])
            param[rows].copy_(value.T if transposed else value)


def grads_of(pairs) -> dict[str, np.ndarray]:
    out = {}
    for name, param, rows, transposed in pairs:
        g = param.grad[rows]
        out[name] = (g.T if transposed else g).numpy()
    return out
