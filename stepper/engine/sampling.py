"""Turning the last position's logits into the next token: temperature, top-k / top-p, sampling."""

from __future__ import annotations

import numpy as np

from stepper.engine import softmax
from stepper.trace import Formula

TEMPERATURE_FORMULA = Formula(
    plain="z' = (z − max z) / τ",
    latex=r"z' = (z - \max z) / \tau",
    meaning="Dividing by τ < 1 sharpens the distribution (τ → 0 is greedy); τ > 1 flattens it towards uniform. "
            "Subtracting the largest logit first changes no probability, but keeps a tiny τ from overflowing.",
)
FILTER_FORMULA = Formula(
    plain="z'[v] = −∞ unless v is among the top-k and inside the top-p nucleus",
    latex=r"z'_v = \begin{cases} z_v & v \in \mathrm{top}_k \cap \mathrm{nucleus}_p \\ -\infty & \text{otherwise} \end{cases}",
    meaning="Cutting the long tail of unlikely tokens keeps one unlucky draw from derailing the text; −∞ makes their probability exactly 0.",
)
SOFTMAX_FORMULA = Formula(
    plain="p = softmax(z')",
    latex=r"p_v = \frac{e^{z'_v}}{\sum_{u} e^{z'_u}}",
    meaning="The kept logits become the probabilities the next token is drawn from.",
)
SAMPLE_FORMULA = Formula(
    plain="next = first v with Σ_{u ≤ v} p[u] > r,  r ~ U(0, 1)   (greedy: argmax p)",
    latex=r"\mathrm{next} = \min\{v : \textstyle\sum_{u \le v} p_u > r\},\quad r \sim U(0,1)",
    meaning="A seeded uniform draw picks a token with probability p[v]; greedy decoding always takes the most likely one.",
)


def apply_temperature(z: np.ndarray, tau: float, banned: tuple[int, ...] = ()) -> np.ndarray:
    """(z − max z) / τ, the max taken over the tokens that may be drawn (not `banned`).

    z / τ itself overflows to ±∞ for a tiny τ (1e-320), and ∞ − ∞ is NaN in the softmax; shifted,
    the best drawable token sits at 0 and the others at or below it, so an overflow can only reach
    −∞, whose probability is exactly the 0 it tends to.
    """
    allowed = np.ones(z.shape[0], dtype=bool)
    allowed[list(banned)] = False
    with np.errstate(over="ignore"):  # −∞ (or +∞ for a banned token, dropped later) is the exact limit
        return (z - z[allowed].max()) / tau  # [V]


def keep_mask(z: np.ndarray, top_k: int, top_p: float, banned: tuple[int, ...] = ()) -> np.ndarray:
    """[V] boolean: which tokens survive top-k (0 = off) and top-p (1.0 = off) filtering.

    `banned` tokens (`<pad>`: padding is not text) never survive, and do not count towards k.
    """
    keep = np.ones(z.shape[0], dtype=bool)
    keep[list(banned)] = False
    z = np.where(keep, z, -np.inf)  # [V]
    order = np.argsort(-z, kind="stable")  # [V] most likely first; ties keep vocabulary order
    if 0 < top_k < z.shape[0]:
        keep[order[top_k:]] = False
    if top_p < 1.0:
        p, _ = softmax.forward(np.where(keep, z, -np.inf))  # [V]
        before = np.cumsum(p[order]) - p[order]  # [V] mass of the tokens ranked above
        keep[order[before >= top_p]] = False  # the smallest set whose mass reaches top_p stays
    return keep


def filter_logits(z: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, z, -np.inf)  # [V]


def choose(p: np.ndarray, r: float, greedy: bool) -> int:
    if greedy:
        return int(np.argmax(p))
    idx = int(np.searchsorted(np.cumsum(p), r, side="right"))
    return min(idx, p.shape[0] - 1)  # r close to 1 and rounding: stay in range
