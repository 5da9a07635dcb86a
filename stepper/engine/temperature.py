"""Cosine attention's scale: the cosines, all in [−1, 1], divided by a temperature τ so that the softmax
can still prefer one key sharply (by 1/τ instead of by 1/√d_k)."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="S' = S / τ",
    latex=r"S'_h = \frac{S_h}{\tau}",
    meaning="Cosines differ by at most 2, too little for softmax to choose; dividing by a small τ (0.1: ×10) spreads them so it can.",
)
GRAD_FORMULA = Formula(
    plain="dS = dS' / τ",
    latex=r"\frac{\partial L}{\partial S_h} = \frac{1}{\tau} \frac{\partial L}{\partial S'_h}",
    meaning="Dividing by a constant divides the gradient by the same constant.",
)


def forward(s: np.ndarray, tau: float):
    return s / tau, tau  # [H, T_q, T_k]


def backward(dout: np.ndarray, tau: float) -> np.ndarray:
    return dout / tau  # [H, T_q, T_k]
