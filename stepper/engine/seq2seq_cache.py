"""An encoder–decoder's decoding with caches: the source is encoded once, each decoder layer's
cross-attention keys and values are computed from that memory once, and the decoder's self-attention
keeps a growing key/value cache, so a new target token costs one row per layer.

The memory does not change while the target grows, so neither do the cross-attention's K and V: only
the new row's query meets them. The blocks are the traced pass's (torch.nn.Transformer's semantics,
the same stage modules): `<pad>` in the source is never a key, the target's positions start at 0.
"""

from __future__ import annotations

import numpy as np

from stepper.engine.cached_blocks import Blocks, embed
from stepper.scenario.types import ModelConfig
from stepper.trace import Formula

PREFILL_FORMULA = Formula(
    plain="M = encoder(source), once;  K_x = M·W_K, V_x = M·W_V per decoder layer, once;  "
          "run <bos>: K, V cached;  z = logits(<bos>)",
    latex=r"M = \mathrm{enc}(\text{source}),\quad K^{(\ell)}_x = M W^{(\ell)}_K,\ V^{(\ell)}_x = M W^{(\ell)}_V"
          r"\ \text{(once)};\quad z = \mathrm{logits}(h_{\langle bos \rangle})",
    meaning="The source is read once: the encoder's output (the memory) gives every decoder layer its "
            "cross-attention keys and values, which no later token changes. The decoder then starts from <bos>.",
)
DECODE_FORMULA = Formula(
    plain="self: K ← [K; k], V ← [V; v], a = softmax(q·Kᵀ/√d_k);  cross: a_x = softmax(q_x·K_xᵀ/√d_k) "
          "over the fixed K_x, V_x;  z = logits(new row)",
    latex=r"K \leftarrow \begin{bmatrix} K \\ k \end{bmatrix},\ V \leftarrow \begin{bmatrix} V \\ v \end{bmatrix},"
          r"\quad a_x = \mathrm{softmax}\!\left(\frac{q_x K_x^\top}{\sqrt{d_k}}\right),\quad z = \mathrm{logits}(\dots)",
    meaning="The new target token computes its own Q, K, V; its K and V join the self-attention cache. Its "
            "cross-attention query looks at the source through K_x and V_x, computed once from the memory.",
)


class Seq2SeqKVCache:
    """Decoding of one source: `feed(ids)` appends target tokens and returns the last one's logits."""

    def __init__(self, m: ModelConfig, params: dict[str, np.ndarray], source_ids: list[int], pad_id: int | None,
                 running: dict | None = None):
        self.m, self.b = m, Blocks(m, params, running)
        keys_ok = np.array([i != pad_id for i in source_ids], dtype=bool)  # [T_s]: <pad> is never a key
        self.memory = self._encode(source_ids, keys_ok)  # [T_s, D]
        self.cross_ok = keys_ok
        cross = [f"decoder.layers.{i}.cross_attn" for i in range(m.n_dec_layers)]
        self.Kx = [self.b.lin(self.memory, c, "K") for c in cross]  # per layer [T_s, D], once
        self.Vx = [self.b.lin(self.memory, c, "V") for c in cross]  # per layer [T_s, D], once
        self.K = [np.zeros((0, m.d_model)) for _ in range(m.n_dec_layers)]  # per layer [t, D], growing
        self.V = [np.zeros((0, m.d_model)) for _ in range(m.n_dec_layers)]
        self.ids: list[int] = []

    def _encode(self, ids: list[int], keys_ok: np.ndarray) -> np.ndarray:
        b, x = self.b, embed(self.m, self.b.p, ids, 0)  # [T_s, D]
        ok = np.broadcast_to(keys_ok, (len(ids), len(ids)))  # [T_s, T_s]
        for i in range(self.m.n_layers):
            at = f"encoder.layers.{i}"

            def attn(a: np.ndarray, at=at) -> np.ndarray:
                z, _ = b.attend(b.lin(a, f"{at}.attn", "Q"), b.lin(a, f"{at}.attn", "K"), b.lin(a, f"{at}.attn", "V"), ok)
                return b.lin(z, f"{at}.attn", "O")

            x = b.sublayer(at, 1, x, attn)
            x = b.sublayer(at, 2, x, lambda a, at=at: b.ffn(a, f"{at}.ffn"))
        return b.norm("encoder.ln_f", x) if self.m.final_norm else x

    def feed(self, ids: list[int]) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Process new target tokens; returns (the last one's logits [V], per decoder layer its caches and weights)."""
        start, b = len(self.ids), self.b
        self.ids.extend(ids)
        x, infos = embed(self.m, b.p, ids, start), []  # [n, D]
        causal = np.arange(len(self.ids))[None, :] <= np.arange(start, len(self.ids))[:, None]  # [n, t]
        cross_ok = np.broadcast_to(self.cross_ok, (len(ids), len(self.cross_ok)))  # [n, T_s]
        for i in range(self.m.n_dec_layers):
            at, info = f"decoder.layers.{i}", {}

            def self_attn(a: np.ndarray, i=i, at=at, info=info) -> np.ndarray:
                k, v = b.lin(a, f"{at}.self_attn", "K"), b.lin(a, f"{at}.self_attn", "V")  # [n, D]
                self.K[i], self.V[i] = np.vstack([self.K[i], k]), np.vstack([self.V[i], v])  # [t, D]
                z, info["A"] = b.attend(b.lin(a, f"{at}.self_attn", "Q"), self.K[i], self.V[i], causal)
                return b.lin(z, f"{at}.self_attn", "O")

            def cross_attn(a: np.ndarray, i=i, at=at, info=info) -> np.ndarray:
                z, info["Ax"] = b.attend(b.lin(a, f"{at}.cross_attn", "Q"), self.Kx[i], self.Vx[i], cross_ok)
                return b.lin(z, f"{at}.cross_attn", "O")

            x = b.sublayer(at, 1, x, self_attn)
            x = b.sublayer(at, 2, x, cross_attn)
            x = b.sublayer(at, 3, x, lambda a, at=at: b.ffn(a, f"{at}.ffn"))
            infos.append(info | {"K": self.K[i], "V": self.V[i], "Kx": self.Kx[i], "Vx": self.Vx[i]})
        if self.m.final_norm:
            x = b.norm("decoder.ln_f", x)
        return b.head(x[-1]), infos  # [V]: only the last position predicts the next token
