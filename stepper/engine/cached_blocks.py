"""The blocks both decoding caches run on plain arrays, new rows at a time (kv_cache.py for a decoder,
seq2seq_cache.py for an encoder–decoder): embedding with positions, the norms in evaluation, each
sublayer with its residual, attention over given keys and values, the FFN and the head. They use the
traced pass's stage modules, so a cached decode computes what the full pass computes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stepper.engine import (
    activation,
    attention_scores,
    batchnorm,
    heads,
    layernorm,
    linear,
    mask,
    positional,
    positional_concat,
    softmax,
    tied_head,
    weighted_sum,
)
from stepper.scenario.types import ModelConfig


def eval_norm(m: ModelConfig, p: dict[str, np.ndarray], running: dict | None, name: str, x: np.ndarray) -> np.ndarray:
    """The norm `name` (e.g. "layers.0.ln1") in evaluation: LayerNorm, or BatchNorm with its running
    statistics — those training left, else torch's start (mean 0, variance 1). Decoding is evaluation:
    the few rows decoded so far are no batch to take statistics from."""
    gamma, beta = p[f"{name}.gamma"], p[f"{name}.beta"]
    if m.norm_type != "batch":
        return layernorm.forward(x, gamma, beta, m.norm_eps)[0]
    stats = (running or {}).get(name) or batchnorm.initial(x.shape[-1])
    return batchnorm.evaluate(x, gamma, beta, m.norm_eps, batchnorm.Stats(*stats))


def embed(m: ModelConfig, p: dict[str, np.ndarray], ids: list[int], start: int) -> np.ndarray:
    """[n, D]: the tokens' rows of embed.tok with positions start, start + 1, … added (or beside them)."""
    x = p["embed.tok"][np.array(ids, dtype=int)]  # [n, D] (concat: [n, d_tok])
    end = start + len(ids)
    if m.positional == "sinusoidal":
        return x + positional.sinusoidal(end, m.d_model)[start:]  # [n, D]
    if m.positional == "concat":
        return positional_concat.forward(x, positional.sinusoidal(end, m.d_pos)[start:])  # [n, D]
    if m.positional == "learned":
        if end > m.max_len:  # the loader refuses such scenarios; this guards direct use
            raise ValueError(f"position {end - 1} is past max_len {m.max_len}")
        return x + p["embed.pos"][start:end]  # [n, D]
    return x


class Blocks:
    """The sublayers of torch.nn.Transformer's layers, on plain arrays."""

    def __init__(self, m: ModelConfig, p: dict[str, np.ndarray], running: dict | None = None):
        self.m, self.p, self.running = m, p, running  # running: BatchNorm's statistics

    def norm(self, name: str, x: np.ndarray) -> np.ndarray:
        return eval_norm(self.m, self.p, self.running, name, x)

    def lin(self, x: np.ndarray, block: str, which: str) -> np.ndarray:
        return linear.forward(x, self.p[f"{block}.W_{which}"], self.p.get(f"{block}.b_{which}"))[0]

    def sublayer(self, layer: str, n: int, x: np.ndarray, f: Callable[[np.ndarray], np.ndarray],
                 residual: bool = True) -> np.ndarray:
        """post: LN(x + f(x)); pre: x + f(LN(x)); none: x + f(x) — `ln{n}` of `layer`; without the
        residual, f's output replaces the stream."""
        norm = self.m.norm
        out = f(self.norm(f"{layer}.ln{n}", x) if norm == "pre" else x)  # [n, D]
        out = x + out if residual else out
        return self.norm(f"{layer}.ln{n}", out) if norm == "post" else out

    def attend(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the heads' concatenated output [n, D], the weights [H, n, t]) of queries q over keys k, values v."""
        m = self.m
        s = attention_scores.forward(heads.split(q, m.n_heads), heads.split(k, m.n_heads), m).s  # [H, n, t]
        a, _ = softmax.forward(mask.forward(s, ok)[0])  # [H, n, t]
        z, _ = weighted_sum.forward(a, heads.split(v, m.n_heads))  # [H, n, d_k]
        return heads.concat(z), a

    def ffn(self, x: np.ndarray, block: str) -> np.ndarray:
        g, _ = activation.forward(x @ self.p[f"{block}.W_1"] + self.p.get(f"{block}.b_1", 0.0), self.m.activation)
        return g @ self.p[f"{block}.W_2"] + self.p.get(f"{block}.b_2", 0.0)  # [n, D]

    def head(self, h: np.ndarray) -> np.ndarray:
        if self.m.tie_embeddings:
            return tied_head.forward(h, self.p["embed.tok"])[0]
        return linear.forward(h, self.p["head.W"], self.p.get("head.b"))[0]
