"""Cosine attention's first stage: each row of a head's Q (or K) divided by its length, so that only
its direction is left and the dot products that follow are cosines."""

import numpy as np

from stepper.trace import Formula

EPS = 1e-12  # torch.nn.functional.normalize's: a zero row is divided by this, so it stays zero

FORMULA = Formula(
    plain="X̂[i] = X[i] / max(‖X[i]‖, ε)",
    latex=r"\hat X_{h,i} = \frac{X_{h,i}}{\max(\lVert X_{h,i} \rVert_2,\ \varepsilon)}",
    meaning="Every query (or key) row becomes a unit vector: its length no longer counts, only where it points.",
    roles=(("X", "in 0"), ("X̂", "out 0")),
)
GRAD_FORMULA = Formula(
    plain="dX[i] = (dX̂[i] − (dX̂[i]·X̂[i]) X̂[i]) / ‖X[i]‖",
    latex=r"\frac{\partial L}{\partial X_{h,i}} = \frac{1}{\lVert X_{h,i} \rVert}\Big(\frac{\partial L}{\partial \hat X_{h,i}} - \Big(\frac{\partial L}{\partial \hat X_{h,i}} \cdot \hat X_{h,i}\Big)\hat X_{h,i}\Big)",
    meaning="Only the part of the gradient across the row reaches X: lengthening a unit vector changes nothing after the division.",
    roles=(("dX", "out 0"),),
)


def forward(x: np.ndarray):
    length = np.sqrt((x * x).sum(axis=-1, keepdims=True))  # [..., T, 1]
    clamped = np.maximum(length, EPS)  # [..., T, 1]
    unit = x / clamped  # [..., T, d_k]
    return unit, (unit, clamped, length >= EPS)


def backward(d_unit: np.ndarray, cache) -> np.ndarray:
    unit, clamped, divided_by_length = cache
    along = (d_unit * unit).sum(axis=-1, keepdims=True)  # [..., T, 1]
    # a row shorter than ε was divided by the constant ε: its gradient is d_unit / ε, with no projection
    return (d_unit - np.where(divided_by_length, along, 0.0) * unit) / clamped  # [..., T, d_k]
