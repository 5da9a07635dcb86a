"""Attention scores: how well each query matches each key, one matrix per head."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="S = Q · Kᵀ",
    latex=r"S_h = Q_h K_h^\top",
    meaning="Row i, column j is the dot product of token i's query with token j's key: how much i is looking for what j offers.",
)
GRAD_FORMULA = Formula(
    plain="dQ = dS · K,  dK = dSᵀ · Q",
    latex=r"\frac{\partial L}{\partial Q_h} = \frac{\partial L}{\partial S_h} K_h,\quad \frac{\partial L}{\partial K_h} = \Big(\frac{\partial L}{\partial S_h}\Big)^{\!\top} Q_h",
    meaning="This is where the loss reaches the queries and keys, and through them W_Q and W_K.",
)


def forward(q: np.ndarray, k: np.ndarray):
    s = q @ k.transpose(0, 2, 1)  # [H, T, T] = [H, T, d_k] @ [H, d_k, T]
    return s, (q, k)


def backward(ds: np.ndarray, cache):
    q, k = cache
    dq = ds @ k  # [H, T, d_k]
    dk = ds.transpose(0, 2, 1) @ q  # [H, T, d_k]
    return dq, dk
