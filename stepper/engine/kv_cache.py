"""A decoder that keeps each layer's keys and values, so a new token costs one row, not a rerun.

Only K and V are cached: a new token's query is needed once, to attend over every cached
key, and never again; but every later token will attend to this token's key and value.
The block is the same as the traced forward pass (same stage modules, same conventions);
it just runs on the new rows against the cache.
"""

from __future__ import annotations

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


class KVCache:
    def __init__(self, m: ModelConfig, params: dict[str, np.ndarray], pad_id: int | None,
                 running: dict | None = None):
        self.m, self.p, self.pad_id, self.running = m, params, pad_id, running  # running: BatchNorm's statistics
        self.K = [np.zeros((0, m.d_model)) for _ in range(m.n_layers)]  # per layer [t, D]
        self.V = [np.zeros((0, m.d_model)) for _ in range(m.n_layers)]  # per layer [t, D]
        self.ids: list[int] = []

    @property
    def length(self) -> int:
        return len(self.ids)

    def feed(self, ids: list[int]) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Process new tokens at the end of the sequence; returns (last position's logits [V], per-layer info)."""
        m, start = self.m, self.length
        self.ids.extend(ids)
        x = self.p["embed.tok"][np.array(ids)]  # [n, D] (concat: [n, d_tok])
        if m.positional == "sinusoidal":
            x = x + positional.sinusoidal(self.length, m.d_model)[start:]  # [n, D]
        elif m.positional == "concat":
            x = positional_concat.forward(x, positional.sinusoidal(self.length, m.d_pos)[start:])  # [n, D]
        elif m.positional == "learned":
            if self.length > m.max_len:  # the loader refuses such scenarios; this guards direct use
                raise ValueError(f"position {self.length - 1} is past max_len {m.max_len}")
            x = x + self.p["embed.pos"][start:self.length]  # [n, D]
        infos = []
        for i in range(m.n_layers):
            x, info = self._layer(i, x, start)
            infos.append(info)
        if m.final_norm:
            x = eval_norm(m, self.p, self.running, "ln_f", x)  # [n, D]
        last = x[-1]  # [D]: only the last position predicts the next token
        if m.tie_embeddings:
            return tied_head.forward(last, self.p["embed.tok"])[0], infos  # [V]
        return linear.forward(last, self.p["head.W"], self.p.get("head.b"))[0], infos  # [V]

    def _norm(self, i: int, which: int, x: np.ndarray) -> np.ndarray:
        return eval_norm(self.m, self.p, self.running, f"layers.{i}.ln{which}", x)

    def _lin(self, x: np.ndarray, name: str, which: str) -> np.ndarray:
        return linear.forward(x, self.p[f"{name}.W_{which}"], self.p.get(f"{name}.b_{which}"))[0]

    def _layer(self, i: int, x: np.ndarray, start: int):
        m, p, info = self.m, f"layers.{i}", {}

        def attend(a: np.ndarray) -> np.ndarray:  # a [n, D] → [n, D]
            q, k, v = (self._lin(a, f"{p}.attn", w) for w in "QKV")  # [n, D] each
            self.K[i] = np.vstack([self.K[i], k])  # [t, D]: the cache grows by n rows
            self.V[i] = np.vstack([self.V[i], v])  # [t, D]
            # the cache keeps K as projected; cosine attention normalises its rows at each use, as the full pass does
            s = attention_scores.forward(heads.split(q, m.n_heads), heads.split(self.K[i], m.n_heads), m).s  # [H, n, t]
            ok = self._allowed(start, x.shape[0])  # [n, t]
            a_w, _ = softmax.forward(mask.forward(s, ok)[0])  # [H, n, t]
            z, _ = weighted_sum.forward(a_w, heads.split(self.V[i], m.n_heads))  # [H, n, d_k]
            info.update(q=q, K=self.K[i], V=self.V[i], A=a_w)
            return self._lin(heads.concat(z), f"{p}.attn", "O")

        def feed_forward(a: np.ndarray) -> np.ndarray:  # [n, D] → [n, F] → [n, D]
            g, _ = activation.forward(a @ self.p[f"{p}.ffn.W_1"] + self.p.get(f"{p}.ffn.b_1", 0.0), m.activation)
            return g @ self.p[f"{p}.ffn.W_2"] + self.p.get(f"{p}.ffn.b_2", 0.0)

        x = self._sublayer(i, 1, x, attend, m.keeps_residual("attention"))
        if m.ffn:
            x = self._sublayer(i, 2, x, feed_forward, m.keeps_residual("ffn"))
        return x, info

    def _sublayer(self, i: int, n: int, x: np.ndarray, block, residual: bool) -> np.ndarray:
        """post: LN(x + f(x)); pre: x + f(LN(x)); none: x + f(x) — with `ln{n}` of layer i; without the
        residual, f's output replaces the stream."""
        norm = self.m.norm
        out = block(self._norm(i, n, x) if norm == "pre" else x)  # [n, D]
        out = x + out if residual else out
        return self._norm(i, n, out) if norm == "post" else out

    def _allowed(self, start: int, n: int) -> np.ndarray:
        """[n, t]: new row r (position start + r) sees cached positions up to itself, except <pad>."""
        t = self.length
        pos = np.arange(start, start + n)[:, None]  # [n, 1]
        ok = np.arange(t)[None, :] <= pos  # [n, t] causal
        if self.pad_id is not None:
            ok &= np.array(self.ids) != self.pad_id  # [n, t]
        return ok
