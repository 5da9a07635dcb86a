"""An attention's scores from its heads' queries and keys, by the model's rule: Q·Kᵀ ÷ √d_k (or left
unscaled with `attention_scale: false`), or with `attention: cosine` the cosines Q̂·K̂ᵀ of unit-length
rows, ÷ τ. One place for the recorded pass (attention.py) and the KV caches, so all score alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from stepper.engine import cosine_scores, scale, scores, temperature, unit_rows
from stepper.scenario.types import ModelConfig


@dataclass
class Scored:
    s_raw: np.ndarray  # [H, T_q, T_k] Q·Kᵀ, or the cosines Q̂·K̂ᵀ
    s: np.ndarray  # [H, T_q, T_k] divided by √d_k or τ (s_raw itself when unscaled)
    divisor: float | None  # what scale.backward or temperature.backward takes; None when unscaled
    q_hat: np.ndarray | None = None  # [H, T_q, d_k] cosine: the unit query rows
    k_hat: np.ndarray | None = None  # [H, T_k, d_k] cosine: the unit key rows
    units: tuple | None = None  # cosine: unit_rows' caches of Q and K

    @property
    def cosine(self) -> bool:
        return self.units is not None


class ScoreGrads(NamedTuple):
    d_s_raw: np.ndarray  # [H, T_q, T_k]
    d_q: np.ndarray  # [H, T_q, d_k]
    d_k: np.ndarray  # [H, T_k, d_k]
    d_q_hat: np.ndarray | None = None  # cosine: of the unit rows, before the normalisations pass it on
    d_k_hat: np.ndarray | None = None


def forward(q: np.ndarray, k: np.ndarray, m: ModelConfig) -> Scored:
    """q [H, T_q, d_k], k [H, T_k, d_k]."""
    if m.attention == "cosine":
        q_hat, q_cache = unit_rows.forward(q)  # [H, T_q, d_k]
        k_hat, k_cache = unit_rows.forward(k)  # [H, T_k, d_k]
        s_raw, _ = cosine_scores.forward(q_hat, k_hat)  # [H, T_q, T_k]
        s, tau = temperature.forward(s_raw, m.attention_temperature)
        return Scored(s_raw, s, tau, q_hat, k_hat, (q_cache, k_cache))
    s_raw, _ = scores.forward(q, k)  # [H, T_q, T_k]
    if not m.attention_scale:
        return Scored(s_raw, s_raw, None)
    s, factor = scale.forward(s_raw, m.d_k)
    return Scored(s_raw, s, factor)


def backward(d_s: np.ndarray, c: Scored, q: np.ndarray, k: np.ndarray) -> ScoreGrads:
    """d_s: the gradient of the (scaled) scores; q, k the heads forward read."""
    if c.cosine:
        d_raw = temperature.backward(d_s, c.divisor)  # [H, T_q, T_k]
        d_q_hat, d_k_hat = cosine_scores.backward(d_raw, (c.q_hat, c.k_hat))
        return ScoreGrads(d_raw, unit_rows.backward(d_q_hat, c.units[0]), unit_rows.backward(d_k_hat, c.units[1]),
                          d_q_hat, d_k_hat)
    d_raw = d_s if c.divisor is None else scale.backward(d_s, c.divisor)
    return ScoreGrads(d_raw, *scores.backward(d_raw, (q, k)))
