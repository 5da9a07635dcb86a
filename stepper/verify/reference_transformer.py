"""The transformer forward pass in torch, one keyed operation per quantity of docs/trace-keys.md.

Written from those definitions with torch's own functions only; the
backward is left entirely to autograd.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from stepper.scenario.types import PAD, Scenario
from stepper.verify.graph import Graph

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x, approximate="none"),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


def input_ids(scenario: Scenario) -> list[int]:
    ids = scenario.token_ids
    # next_token reads [A..D] to predict [B..E]
    return ids[:-1] if scenario.task.kind == "next_token" else ids


def pad_id(scenario: Scenario) -> int | None:
    return scenario.vocab.index(PAD) if PAD in scenario.vocab else None


def sinusoidal(n_pos: int, d: int) -> torch.Tensor:
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    col = torch.arange(d)
    rate = torch.pow(torch.tensor(10000.0, dtype=torch.float64), (2 * (col // 2)).to(torch.float64) / d)
    angle = pos / rate
    return torch.where(col % 2 == 0, torch.sin(angle), torch.cos(angle))


def attention_mask(scenario: Scenario, ids: list[int]) -> torch.Tensor:
    """[T, T] bool, True where query row may NOT see key column."""
    t = len(ids)
    pad = pad_id(scenario)
    is_pad = torch.tensor([i == pad for i in ids], dtype=torch.bool)
    mask = is_pad[None, :].expand(t, t).clone()
    if scenario.model.kind == "decoder":
        mask |= torch.ones(t, t, dtype=torch.bool).triu(1)
    return mask


def build_transformer(g: Graph, scenario: Scenario) -> str:
    """Adds embeddings, layers, final norm, pooling and head; returns the head output's key."""
    m = scenario.model
    ids = input_ids(scenario)
    t = len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    g.op("tok_emb", lambda e: F.embedding(ids_t, e), "embed.tok")
    if m.positional == "sinusoidal":
        g.constant("pos", sinusoidal(t, m.d_model))
        g.op("x0", torch.add, "tok_emb", "pos")
    elif m.positional == "learned":
        g.op("pos", lambda p: p[:t], "embed.pos")
        g.op("x0", torch.add, "tok_emb", "pos")
    else:
        g.alias("x0", "tok_emb")

    mask = attention_mask(scenario, ids)
    stream = "x0"
    for i in range(m.n_layers):
        stream = _layer(g, scenario, i, stream, mask)
    if m.final_norm:
        stream = _layernorm(g, "ln_f", "ln_f", stream, m.norm_eps)

    if scenario.task.kind == "next_token":
        features = stream
    else:
        features = _pool(g, scenario, stream, ids)
    if m.tie_embeddings:
        if scenario.task.kind != "next_token":
            raise ValueError("tie_embeddings scores the vocabulary, so it needs task.kind: next_token")
        return g.op("logits", lambda h, e: F.linear(h, e), features, "embed.tok")  # tied: scores = h · Eᵀ
    return _linear(g, "logits", features, "head.W", "head.b")


def _pool(g: Graph, scenario: Scenario, stream: str, ids: list[int]) -> str:
    how = scenario.model.pooling
    if how == "first":
        return g.op("pooled", lambda x: x[0], stream)
    if how == "last":
        return g.op("pooled", lambda x: x[-1], stream)
    pad = pad_id(scenario)
    keep = torch.tensor([k for k, i in enumerate(ids) if i != pad], dtype=torch.long)
    return g.op("pooled", lambda x: x[keep].mean(dim=0), stream)


def _layernorm(g: Graph, key: str, pname: str, x: str, eps: float) -> str:
    return g.op(key, lambda v, w, b: F.layer_norm(v, (v.shape[-1],), w, b, eps),
                x, f"{pname}.gamma", f"{pname}.beta")


def _linear(g: Graph, key: str, x: str, w: str, b: str) -> str:
    # F.linear wants the weight [out, in]; stepper stores W [in, out] (docs/scenario-format.md), so it gets the transposed view
    if b in g.nodes:
        return g.op(key, lambda v, wt, bias: F.linear(v, wt.t(), bias), x, w, b)
    return g.op(key, lambda v, wt: F.linear(v, wt.t()), x, w)


def _layer(g: Graph, scenario: Scenario, i: int, x: str, mask: torch.Tensor) -> str:
    m = scenario.model
    L, P = f"L{i}", f"layers.{i}"
    h, dk = m.n_heads, m.d_k

    a = _layernorm(g, f"{L}.ln1", f"{P}.ln1", x, m.norm_eps) if m.norm == "pre" else x
    for name in "QKV":
        _linear(g, f"{L}.attn.{name}", a, f"{P}.attn.W_{name}", f"{P}.attn.b_{name}")

    def heads(v: torch.Tensor) -> torch.Tensor:  # [T, D] -> [H, T, d_k]
        return v.reshape(v.shape[0], h, dk).transpose(0, 1)

    g.op(f"{L}.attn.S_raw", lambda q, k: heads(q) @ heads(k).transpose(-1, -2), f"{L}.attn.Q", f"{L}.attn.K")
    scores = f"{L}.attn.S_raw"
    if m.attention_scale:
        scores = g.op(f"{L}.attn.S", lambda s: s / math.sqrt(dk), scores)
    g.op(f"{L}.attn.S_masked", lambda s: s.masked_fill(mask, float("-inf")), scores)
    g.op(f"{L}.attn.A", lambda s: torch.softmax(s, dim=-1), f"{L}.attn.S_masked")
    g.op(f"{L}.attn.Z", lambda p, v: p @ heads(v), f"{L}.attn.A", f"{L}.attn.V")
    g.op(f"{L}.attn.concat", lambda z: z.transpose(0, 1).reshape(z.shape[1], h * dk), f"{L}.attn.Z")
    _linear(g, f"{L}.attn.out", f"{L}.attn.concat", f"{P}.attn.W_O", f"{P}.attn.b_O")
    g.op(f"{L}.res1", torch.add, x, f"{L}.attn.out")

    if m.norm == "post":
        f = _layernorm(g, f"{L}.ln1", f"{P}.ln1", f"{L}.res1", m.norm_eps)
        stream = f
    elif m.norm == "pre":
        f = _layernorm(g, f"{L}.ln2", f"{P}.ln2", f"{L}.res1", m.norm_eps)
        stream = f"{L}.res1"
    else:
        f = stream = f"{L}.res1"
    _linear(g, f"{L}.ffn.H", f, f"{P}.ffn.W_1", f"{P}.ffn.b_1")
    g.op(f"{L}.ffn.G", ACTIVATIONS[m.activation], f"{L}.ffn.H")
    _linear(g, f"{L}.ffn.out", f"{L}.ffn.G", f"{P}.ffn.W_2", f"{P}.ffn.b_2")
    g.op(f"{L}.res2", torch.add, stream, f"{L}.ffn.out")
    if m.norm == "post":
        return _layernorm(g, f"{L}.ln2", f"{P}.ln2", f"{L}.res2", m.norm_eps)
    return f"{L}.res2"
