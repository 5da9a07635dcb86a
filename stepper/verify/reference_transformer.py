"""The transformer forward pass in torch, one keyed operation per quantity of docs/trace-keys.md.

The names come from stepper/trace_keys.py, shared with the engine; every formula here is torch's own.

Written from those definitions with torch's own functions only; the
backward is left entirely to autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from stepper.scenario.types import PAD, Scenario
from stepper.trace_keys import (
    EMBED_POS,
    EMBED_TOK,
    FINAL_NORM,
    HEAD_B,
    HEAD_W,
    LOGITS,
    POOLED,
    POS,
    TOK_EMB,
    X0,
    AttentionKeys,
    FFNKeys,
    LayerKeys,
    NormKeys,
)
from stepper.verify.graph import Graph

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x, approximate="none"),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "square": torch.square,
    "exp": torch.exp,
    "none": torch.clone,  # a node of its own, so G and H keep their own keys
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
    g.op(TOK_EMB, lambda e: F.embedding(ids_t, e), EMBED_TOK)
    if m.positional == "sinusoidal":
        g.constant(POS, sinusoidal(t, m.d_model))
        g.op(X0, torch.add, TOK_EMB, POS)
    elif m.positional == "learned":
        g.op(POS, lambda p: p[:t], EMBED_POS)
        g.op(X0, torch.add, TOK_EMB, POS)
    elif m.positional == "concat":  # the token rows (d_model − d_pos wide), then the sinusoids beside them
        g.constant(POS, sinusoidal(t, m.d_pos))
        g.op(X0, lambda e, p: torch.cat([e, p], dim=-1), TOK_EMB, POS)
    else:
        g.alias(X0, TOK_EMB)

    mask = attention_mask(scenario, ids)
    stream = X0
    for i in range(m.n_layers):
        stream = encoder_layer(g, scenario, LayerKeys(i), stream, mask)
    if m.final_norm:
        stream = norm(g, scenario, FINAL_NORM, stream)

    if scenario.task.kind == "next_token":
        features = stream
    else:
        features = _pool(g, scenario, stream, ids)
    if m.tie_embeddings:
        if scenario.task.kind != "next_token":
            raise ValueError("tie_embeddings scores the vocabulary, so it needs task.kind: next_token")
        return g.op(LOGITS, lambda h, e: F.linear(h, e), features, EMBED_TOK)  # tied: scores = h · Eᵀ
    return linear(g, LOGITS, features, HEAD_W, HEAD_B)


def _pool(g: Graph, scenario: Scenario, stream: str, ids: list[int]) -> str:
    how = scenario.model.pooling
    if how == "first":
        return g.op(POOLED, lambda x: x[0], stream)
    pad = pad_id(scenario)
    if how == "last":  # the last row that is not <pad>
        last = max((k for k, i in enumerate(ids) if i != pad), default=len(ids) - 1)
        return g.op(POOLED, lambda x: x[last], stream)
    keep = torch.tensor([k for k, i in enumerate(ids) if i != pad], dtype=torch.long)
    return g.op(POOLED, lambda x: x[keep].mean(dim=0), stream)


def norm(g: Graph, scenario: Scenario, keys: NormKeys, x: str, ids: list[int] | None = None) -> str:
    """The norm: LayerNorm, or BatchNorm in training mode over the rows that are not <pad> (the one example is the
    batch); a <pad> row is normalised with those rows' statistics too. `ids`: the rows' tokens (default: the
    scenario's input; an encoder–decoder's source or target)."""
    m = scenario.model
    eps = m.norm_eps
    if m.norm_type != "batch":
        return g.op(keys.out, lambda v, w, b: F.layer_norm(v, (v.shape[-1],), w, b, eps), x, keys.gamma, keys.beta)
    if g.norm_statistics is not None:  # evaluation: torch's BatchNorm1d in eval mode, the running statistics
        prefix = keys.gamma.rsplit(".", 1)[0]
        stats = g.norm_statistics.get(prefix)

        def eval_norm(v: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            d = v.shape[-1]
            mean, var = ((torch.as_tensor(s, dtype=v.dtype) for s in stats) if stats is not None
                         else (torch.zeros(d, dtype=v.dtype), torch.ones(d, dtype=v.dtype)))
            return F.batch_norm(v, mean, var, w, b, training=False, eps=eps)

        return g.op(keys.out, eval_norm, x, keys.gamma, keys.beta)
    pad = pad_id(scenario)
    ids = input_ids(scenario) if ids is None else ids
    kept = torch.tensor([k for k, i in enumerate(ids) if i != pad], dtype=torch.long)
    others = torch.tensor([k for k, i in enumerate(ids) if i == pad], dtype=torch.long)

    def batch_norm(v: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = v.shape[-1]
        running = torch.zeros(d, dtype=v.dtype), torch.ones(d, dtype=v.dtype)
        out = torch.zeros_like(v).index_put((kept,), F.batch_norm(v[kept], *running, w, b, training=True,
                                                                 momentum=0.1, eps=eps))
        if len(others):
            rows = v[kept]
            mean, var = rows.mean(dim=0), rows.var(dim=0, unbiased=False)
            out = out.index_put((others,), (v[others] - mean) / torch.sqrt(var + eps) * w + b)
        return out

    return g.op(keys.out, batch_norm, x, keys.gamma, keys.beta)


def linear(g: Graph, key: str, x: str, w: str, b: str) -> str:
    # F.linear wants the weight [out, in]; stepper stores W [in, out] (docs/scenario-format.md), so it gets the transposed view
    if b in g.nodes:
        return g.op(key, lambda v, wt, bias: F.linear(v, wt.t(), bias), x, w, b)
    return g.op(key, lambda v, wt: F.linear(v, wt.t()), x, w)


def attention(g: Graph, scenario: Scenario, keys: AttentionKeys, q_src: str, kv_src: str,
              mask: torch.Tensor) -> str:
    """Multi-head attention with queries from `q_src` and keys and values from `kv_src` (one stream for
    self-attention); `mask` [T_q, T_k] is True where a query may NOT see a key. Returns its output's key."""
    m = scenario.model
    h, dk = m.n_heads, m.d_k
    for name in "QKV":
        linear(g, getattr(keys, name), q_src if name == "Q" else kv_src, keys.weight(name), keys.bias(name))

    def heads(v: torch.Tensor) -> torch.Tensor:  # [T, D] -> [H, T, d_k]
        return v.reshape(v.shape[0], h, dk).transpose(0, 1)

    if m.attention == "cosine":  # torch's own normalize: x / max(‖x‖, 1e-12), row by row
        g.op(keys.Q_hat, lambda q: F.normalize(heads(q), dim=-1, eps=1e-12), keys.Q)
        g.op(keys.K_hat, lambda k: F.normalize(heads(k), dim=-1, eps=1e-12), keys.K)
        g.op(keys.S_raw, lambda q, k: q @ k.transpose(-1, -2), keys.Q_hat, keys.K_hat)
        scores = g.op(keys.S, lambda s: s / m.attention_temperature, keys.S_raw)
    else:
        g.op(keys.S_raw, lambda q, k: heads(q) @ heads(k).transpose(-1, -2), keys.Q, keys.K)
        scores = keys.S_raw
    if m.attention_scale and m.attention == "dot":
        scores = g.op(keys.S, lambda s: s / math.sqrt(dk), scores)
    g.op(keys.S_masked, lambda s: s.masked_fill(mask, float("-inf")), scores)
    g.op(keys.A, lambda s: torch.softmax(s, dim=-1), keys.S_masked)
    g.op(keys.Z, lambda p, v: p @ heads(v), keys.A, keys.V)
    g.op(keys.concat, lambda z: z.transpose(0, 1).reshape(z.shape[1], h * dk), keys.Z)
    return linear(g, keys.out, keys.concat, keys.weight("O"), keys.bias("O"))


def feed_forward(g: Graph, scenario: Scenario, keys: FFNKeys, x: str) -> str:
    linear(g, keys.H, x, keys.weight("1"), keys.bias("1"))
    g.op(keys.G, ACTIVATIONS[scenario.model.activation], keys.H)
    return linear(g, keys.out, keys.G, keys.weight("2"), keys.bias("2"))


def encoder_layer(g: Graph, scenario: Scenario, keys: LayerKeys, x: str, mask: torch.Tensor,
                  ids: list[int] | None = None) -> str:
    """Self-attention then the FFN (none with `ffn: false`), each with its residual (where
    `model.residual` keeps it) and norm; `ids` the rows' tokens (see `norm`)."""
    m = scenario.model
    x = sublayer(g, scenario, keys, 1, x, ids, lambda a: attention(g, scenario, keys.attn, a, a, mask),
                 residual=m.keeps_residual("attention"))
    if not m.ffn:
        return x
    return sublayer(g, scenario, keys, 2, x, ids, lambda a: feed_forward(g, scenario, keys.ffn, a),
                    residual=m.keeps_residual("ffn"))


def sublayer(g: Graph, scenario: Scenario, keys, n: int, x: str, ids: list[int] | None,
             block: Callable[[str], str], *, residual: bool = True) -> str:
    """post: LN(x + f(x)); pre: x + f(LN(x)); none: x + f(x). Without the residual, f's output is the
    stream: LN(f(x)), f(LN(x)), f(x)."""
    placement = scenario.model.norm
    a = norm(g, scenario, keys.norm(n), x, ids) if placement == "pre" else x
    out = block(a)
    if residual:
        out = g.op(keys.residual(n), torch.add, x, out)
    return norm(g, scenario, keys.norm(n), out, ids) if placement == "post" else out
