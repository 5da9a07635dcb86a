"""Optimizer updates: what happens to a weight once its gradient is known.

Each rule is the textbook one, written out so a learner can redo it with a calculator, and
computed in the order torch.optim computes it (float64), so a trained model matches PyTorch's:
the momentum form is the learner's notes' (v ← β·v + g, w ← w − α·v), which is also PyTorch's SGD
with momentum and no dampening. Weight decay λ: sgd, momentum and adam add λ·w to the gradient
(L2, torch's `weight_decay`); adamw shrinks the weight by (1 − α·λ) before its Adam step (decoupled,
torch.optim.AdamW).
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
    "adamw": Formula(
        plain="w ← w·(1 − α·λ);  then Adam: m, s as adam;  w ← w − α·(m/(1−β₁ᵗ)) / (√(s/(1−β₂ᵗ)) + ε)",
        latex=r"w \leftarrow w\,(1 - \alpha\lambda),\quad w \leftarrow w - \alpha\,\frac{m / (1-\beta_1^t)}{\sqrt{s / (1-\beta_2^t)} + \varepsilon}",
        meaning="AdamW: Adam, plus a decay that pulls every weight towards 0 by a fixed fraction α·λ per update, "
                "kept apart from the gradient so Adam's scaling does not weaken it.",
    ),
}

WEIGHT_DECAY_FORMULA = Formula(
    plain="g ← g + λ·w",
    latex=r"g \leftarrow g + \lambda w",
    meaning="L2 weight decay: every weight's gradient gains a pull towards 0 proportional to the weight.",
)


def init_state(kind: str, params: dict[str, np.ndarray], velocity: dict[str, np.ndarray]) -> dict:
    """Optimizer state per parameter: zeros, except velocities the scenario gives."""
    state: dict[str, dict[str, np.ndarray]] = {}
    for name, w in params.items():
        if kind == "momentum":
            state[name] = {"v": np.array(velocity.get(name, np.zeros_like(w)), dtype=np.float64)}
        elif kind in ("adam", "adamw"):
            state[name] = {"m": np.zeros_like(w), "s": np.zeros_like(w)}
        else:
            state[name] = {}
    return state


def update(kind: str, w: np.ndarray, g: np.ndarray, st: dict[str, np.ndarray], t: int, *, lr: float,
           beta: float, beta1: float, beta2: float, eps: float, weight_decay: float = 0.0):
    """One step for one parameter (or all of them flattened); returns (new weight, new state). `t` counts from 1.

    The inputs are not changed. The arithmetic follows torch.optim's single-tensor code, operation by operation."""
    if kind == "adamw":
        if weight_decay != 0.0:
            w = w * (1.0 - lr * weight_decay)  # decoupled: the weight shrinks, the gradient is left alone
    elif weight_decay != 0.0:
        g = g + weight_decay * w  # L2: same shape as w
    if kind == "sgd":
        return w - lr * g, {}  # same shape as w
    if kind == "momentum":
        v = beta * st["v"] + g  # same shape as w
        return w - lr * v, {"v": v}
    m = _lerp(st["m"], g, 1.0 - beta1)  # β₁m + (1−β₁)g, as torch's lerp_ rounds it
    s = st["s"] * beta2 + (1.0 - beta2) * g * g  # same shape as w
    step_size = lr / (1.0 - beta1**t)
    denom = np.sqrt(s) / (1.0 - beta2**t) ** 0.5 + eps  # √ŝ + ε
    return w + (-step_size * m) / denom, {"m": m, "s": s}


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """start + weight·(end − start), with torch's choice of form for large weights (fewer rounding errors)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)
