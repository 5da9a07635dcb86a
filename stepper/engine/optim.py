"""Optimizer updates: what happens to a weight once its gradient is known.

Each rule is the textbook one, written out so a learner can redo it with a calculator:
the momentum form is the learner's notes' (v ← β·v + g, w ← w − α·v), which is also
PyTorch's SGD with momentum and no dampening.
"""

from __future__ import annotations

import numpy as np

from stepper.trace import Formula

FORMULAS = {
    "sgd": Formula(
        plain="w ← w − α·g",
        latex=r"w \leftarrow w - \alpha\, g",
        meaning="Plain gradient descent: step against the gradient, scaled by the learning rate α.",
    ),
    "momentum": Formula(
        plain="v ← β·v + g;  w ← w − α·v",
        latex=r"v \leftarrow \beta v + g,\qquad w \leftarrow w - \alpha v",
        meaning="Momentum keeps a running velocity: steps that agree add up, zig-zags cancel out.",
    ),
    "adam": Formula(
        plain="m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  w ← w − α·(m/(1−β₁ᵗ)) / (√(s/(1−β₂ᵗ)) + ε)",
        latex=r"m \leftarrow \beta_1 m + (1-\beta_1) g,\quad s \leftarrow \beta_2 s + (1-\beta_2) g^2,\quad w \leftarrow w - \alpha\,\frac{m / (1-\beta_1^t)}{\sqrt{s / (1-\beta_2^t)} + \varepsilon}",
        meaning="Adam: momentum on the gradient (m) divided by a running size of the gradient (√s), so every weight takes steps of a similar size.",
    ),
}


def init_state(kind: str, params: dict[str, np.ndarray], velocity: dict[str, np.ndarray]) -> dict:
    """Optimizer state per parameter: zeros, except velocities the scenario gives."""
    state: dict[str, dict[str, np.ndarray]] = {}
    for name, w in params.items():
        if kind == "momentum":
            state[name] = {"v": np.array(velocity.get(name, np.zeros_like(w)), dtype=np.float64)}
        elif kind == "adam":
            state[name] = {"m": np.zeros_like(w), "s": np.zeros_like(w)}
        else:
            state[name] = {}
    return state


def update(kind: str, w: np.ndarray, g: np.ndarray, st: dict[str, np.ndarray], t: int, *, lr: float,
           beta: float, beta1: float, beta2: float, eps: float):
    """One step for one parameter; returns (new weight, new state). `t` counts from 1."""
    if kind == "sgd":
        return w - lr * g, {}  # same shape as w
    if kind == "momentum":
        v = beta * st["v"] + g  # same shape as w
        return w - lr * v, {"v": v}
    m = beta1 * st["m"] + (1 - beta1) * g  # same shape as w
    s = beta2 * st["s"] + (1 - beta2) * g * g  # same shape as w
    m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(s_hat) + eps), {"m": m, "s": s}
