"""Gradient clipping by the total norm, as torch.nn.utils.clip_grad_norm_.

The total norm is the L2 norm of all the parameters' gradients taken as one long vector. When it
exceeds the limit c, every gradient is scaled by the same factor, so the update keeps its direction
and only its length is capped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="‖g‖ = √(Σ g²) over all parameters;  g ← g · min(1, c / (‖g‖ + 10⁻⁶))",
    latex=r"\|g\| = \sqrt{\textstyle\sum g^2},\quad g \leftarrow g \cdot \min\!\Big(1, \frac{c}{\|g\| + 10^{-6}}\Big)",
    meaning="Clipping caps the length of the whole gradient at c: a sudden huge gradient can no longer "
            "throw the weights far away in one update.",
)


def total_norm(grads: np.ndarray | Iterable[np.ndarray]) -> float:
    """The L2 norm of every entry of `grads` (one flat array, or several arrays taken together)."""
    if isinstance(grads, np.ndarray):
        return math.sqrt(_sum_of_squares(grads))
    return math.sqrt(sum(_sum_of_squares(g) for g in grads))


def _sum_of_squares(g: np.ndarray) -> float:
    # einsum, not g @ g: a long vector's dot goes to a multi-threaded BLAS, which on a busy machine can
    # wait milliseconds for a second core; the single-threaded einsum takes microseconds
    return float(np.einsum("i,i->", g.ravel(), g.ravel()))


def coefficient(norm: float, max_norm: float) -> float:
    """The factor every gradient is multiplied by: min(1, c / (‖g‖ + 1e-6)), torch's clamped clip_coef."""
    return min(1.0, max_norm / (norm + 1e-6))


def clip(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """(the clipped gradients as new arrays, the total norm before clipping)."""
    norm = total_norm(grads.values())
    scale = coefficient(norm, max_norm)
    return {name: g * scale for name, g in grads.items()}, norm
