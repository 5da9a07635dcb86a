"""Scaling the scores by 1/√d_k so their spread does not grow with the head width."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="S' = S / √d_k",
    latex=r"S'_h = \frac{S_h}{\sqrt{d_k}}",
    meaning="A dot product of d_k random terms has variance ≈ d_k; dividing by √d_k brings it back to ≈ 1 so softmax does not saturate.",
)
GRAD_FORMULA = Formula(
    plain="dS = dS' / √d_k",
    latex=r"\frac{\partial L}{\partial S_h} = \frac{1}{\sqrt{d_k}} \frac{\partial L}{\partial S'_h}",
    meaning="Scaling by a constant scales the gradient by the same constant.",
)


def forward(s: np.ndarray, d_k: int):
    factor = 1.0 / np.sqrt(d_k)
    return s * factor, factor  # [H, T, T]


def backward(dout: np.ndarray, factor: float) -> np.ndarray:
    return dout * factor  # [H, T, T]
