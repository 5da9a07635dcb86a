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
    """One step for one parameter; returns (new weight, new state). `t` counts from 1. The inputs are not changed."""
    w_new, st_new = np.array(w, dtype=np.float64), {k: v.copy() for k, v in st.items()}
    step(kind, w_new, np.array(g, dtype=np.float64), st_new, t, lr=lr, beta=beta, beta1=beta1, beta2=beta2,
         eps=eps, weight_decay=weight_decay)
    return w_new, st_new


def step(kind: str, w: np.ndarray, g: np.ndarray, st: dict[str, np.ndarray], t: int, *, lr: float,
         beta: float, beta1: float, beta2: float, eps: float, weight_decay: float = 0.0,
         scratch: np.ndarray | None = None) -> None:
    """One step in place: w and the state arrays take their new values; g is used as working space.

    The trainer runs this on all parameters at once (one flat vector), so an update allocates nothing.
    Each line is one of torch.optim's single-tensor operations, in its order, so the roundings agree."""
    tmp = np.empty_like(w) if scratch is None else scratch
    if kind == "adamw":
        if weight_decay != 0.0:
            w *= 1.0 - lr * weight_decay  # decoupled: the weight shrinks, the gradient is left alone
    elif weight_decay != 0.0:
        g += np.multiply(w, weight_decay, out=tmp)  # L2: g + λ·w
    if kind in ("sgd", "momentum"):
        if kind == "momentum":
            v = st["v"]
            v *= beta
            v += g  # v ← β·v + g
            g = v
        w -= np.multiply(g, lr, out=tmp)  # w ← w − α·g
        return
    m, s = st["m"], st["s"]
    weight = 1.0 - beta1  # m ← β₁m + (1−β₁)g, computed as torch's lerp_(g, weight) computes it:
    np.subtract(g, m, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        m += tmp  # m + weight·(g − m)
    else:
        tmp *= 1.0 - weight
        np.subtract(g, tmp, out=m)  # g − (g − m)·(1 − weight)
    s *= beta2
    s += np.multiply(g, 1.0 - beta2, out=tmp).__imul__(g)  # s ← β₂s + ((1−β₂)·g)·g
    step_size = lr / (1.0 - beta1**t)
    np.sqrt(s, out=tmp)
    tmp /= (1.0 - beta2**t) ** 0.5
    tmp += eps  # √ŝ + ε
    np.multiply(m, -step_size, out=g)
    g /= tmp
    w += g  # w ← w − α·m̂ / (√ŝ + ε)
