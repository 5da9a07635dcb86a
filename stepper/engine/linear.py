"""A linear map in the row convention: Y = X W + b, with W stored [in, out]."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="Y = X · W + b",
    latex=r"Y = X W + b",
    meaning="Each output column is a weighted mix of the input's columns, plus a bias.",
    roles=(("X", "in 0"), ("W", "in 1"), ("b", "in 2"), ("Y", "out 0")),
)
GRAD_FORMULA = Formula(
    plain="dW = Xᵀ · dY,  db = Σ_rows dY,  dX = dY · Wᵀ",
    latex=r"\frac{\partial L}{\partial W} = X^\top \frac{\partial L}{\partial Y},\quad \frac{\partial L}{\partial b} = \sum_t \frac{\partial L}{\partial Y_t},\quad \frac{\partial L}{\partial X} = \frac{\partial L}{\partial Y} W^\top",
    meaning="The weight gradient pairs every input with every output gradient; the input gradient sends the output gradient back through Wᵀ.",
    roles=(("dY", "in 0"), ("X", "in 1"), ("W", "in 2"), ("dW", "out d(in 2)"), ("dX", "out d(in 1)"),
           ("db", "out db*")),
)


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None):
    y = x @ w  # [T, out] = [T, in] @ [in, out]
    if b is not None:
        y += b  # [T, out] in place: y is ours, and a second [T, out] array would only be garbage
    return y, (x, w, b is not None)


def backward(dy: np.ndarray, cache):
    """Returns (dX, dW, db or None)."""
    x, w, has_bias = cache
    dx = dy @ w.T  # [T, in]
    x2, dy2 = np.atleast_2d(x), np.atleast_2d(dy)
    dw = x2.T @ dy2  # [in, out]
    db = dy2.sum(axis=0) if has_bias else None  # [out]
    return dx, dw, db
