"""Cosine attention's scores: each unit query against each unit key, a cosine in [−1, 1], one matrix per head."""

import numpy as np

from stepper.engine import scores
from stepper.trace import Formula

FORMULA = Formula(
    plain="S = Q̂ · K̂ᵀ",
    latex=r"S_h = \hat Q_h \hat K_h^\top",
    meaning="Row i, column j is the cosine of the angle between token i's query and token j's key: 1 pointing the same way, −1 opposite, whatever their lengths.",
)
GRAD_FORMULA = Formula(
    plain="dQ̂ = dS · K̂,  dK̂ = dSᵀ · Q̂",
    latex=r"\frac{\partial L}{\partial \hat Q_h} = \frac{\partial L}{\partial S_h} \hat K_h,\quad \frac{\partial L}{\partial \hat K_h} = \Big(\frac{\partial L}{\partial S_h}\Big)^{\!\top} \hat Q_h",
    meaning="The same product rule as dot-product scores, applied to the unit rows; the normalisations then pass it on to Q and K.",
)


def forward(q_hat: np.ndarray, k_hat: np.ndarray):
    return scores.forward(q_hat, k_hat)  # [H, T_q, T_k] = [H, T_q, d_k] @ [H, d_k, T_k]


def backward(ds: np.ndarray, cache):
    return scores.backward(ds, cache)  # [H, T_q, d_k], [H, T_k, d_k]
