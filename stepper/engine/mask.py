"""Masking: positions a query may not see get -inf, which softmax turns into exactly 0."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="S_masked[i, j] = S'[i, j] if allowed(i, j) else −∞   (S' = the scaled scores; S when unscaled)",
    latex=r"\tilde S_{ij} = \begin{cases} S_{ij} & \text{allowed}(i,j) \\ -\infty & \text{otherwise} \end{cases}",
    meaning="−∞ (not 0) is what makes a weight vanish: e^−∞ = 0, while a score of 0 would still get weight e^0 = 1.",
)
GRAD_FORMULA = Formula(
    plain="dS[i, j] = dS_masked[i, j] if allowed(i, j) else 0",
    latex=r"\frac{\partial L}{\partial S_{ij}} = \mathbb{1}[\text{allowed}(i,j)]\,\frac{\partial L}{\partial \tilde S_{ij}}",
    meaning="A masked score had no influence on the loss, so it gets no gradient.",
)


def allowed(pad_keys: np.ndarray, causal: bool) -> np.ndarray:
    """[T, T] boolean: may query i look at key j?"""
    t = pad_keys.shape[0]
    ok = np.broadcast_to(~pad_keys[None, :], (t, t)).copy()  # [T, T]
    if causal:
        ok &= np.tril(np.ones((t, t), dtype=bool))  # [T, T] j ≤ i
    return ok


def forward(s: np.ndarray, ok: np.ndarray):
    out = np.where(ok, s, -np.inf)  # [H, T, T]
    return out, ok


def backward(dout: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, dout, 0.0)  # [H, T, T]
