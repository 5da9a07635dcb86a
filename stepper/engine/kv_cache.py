"""A decoder that keeps each layer's keys and values, so a new token costs one row, not a rerun.

Only K and V are cached: a new token's query is needed once, to attend over every cached
key, and never again; but every later token will attend to this token's key and value.
The block is the same as the traced forward pass (same stage modules, same conventions);
it just runs on the new rows against the cache.
"""

from __future__ import annotations

import numpy as np

from stepper.engine.cached_blocks import Blocks, embed
from stepper.scenario.types import ModelConfig


class KVCache:
    def __init__(self, m: ModelConfig, params: dict[str, np.ndarray], pad_id: int | None,
                 running: dict | None = None):
        self.m, self.pad_id = m, pad_id
        self.b = Blocks(m, params, running)  # running: BatchNorm's statistics
        self.K = [np.zeros((0, m.d_model)) for _ in range(m.n_layers)]  # per layer [t, D]
        self.V = [np.zeros((0, m.d_model)) for _ in range(m.n_layers)]  # per layer [t, D]
        self.ids: list[int] = []

    @property
    def length(self) -> int:
        return len(self.ids)

    def feed(self, ids: list[int]) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Process new tokens at the end of the sequence; returns (last position's logits [V], per-layer info)."""
        m, start = self.m, self.length
        x = embed(m, self.b.p, ids, start)  # [n, D]
        self.ids.extend(ids)
        infos = []
        for i in range(m.n_layers):
            x, info = self._layer(i, x, start)
            infos.append(info)
        if m.final_norm:
            x = self.b.norm("ln_f", x)  # [n, D]
        return self.b.head(x[-1]), infos  # [V]: only the last position predicts the next token

    def _layer(self, i: int, x: np.ndarray, start: int):
        m, b, p, info = self.m, self.b, f"layers.{i}", {}

        def attend(a: np.ndarray) -> np.ndarray:  # a [n, D] → [n, D]
            q, k, v = (b.lin(a, f"{p}.attn", w) for w in "QKV")  # [n, D] each
            self.K[i] = np.vstack([self.K[i], k])  # [t, D]: the cache grows by n rows
            self.V[i] = np.vstack([self.V[i], v])  # [t, D]
            # the cache keeps K as projected; cosine attention normalises its rows at each use, as the full pass does
            z, a_w = b.attend(q, self.K[i], self.V[i], self._allowed(start, x.shape[0]))  # [n, D], [H, n, t]
            info.update(q=q, K=self.K[i], V=self.V[i], A=a_w)
            return b.lin(z, f"{p}.attn", "O")

        x = b.sublayer(p, 1, x, attend, m.keeps_residual("attention"))
        if m.ffn:
            x = b.sublayer(p, 2, x, lambda a: b.ffn(a, f"{p}.ffn"), m.keeps_residual("ffn"))
        return x, info

    def _allowed(self, start: int, n: int) -> np.ndarray:
        """[n, t]: new row r (position start + r) sees cached positions up to itself, except <pad>."""
        t = self.length
        pos = np.arange(start, start + n)[:, None]  # [n, 1]
        ok = np.arange(t)[None, :] <= pos  # [n, t] causal
        if self.pad_id is not None:
            ok &= np.array(self.ids) != self.pad_id  # [n, t]
        return ok
