"""The learning-rate schedule: how much of `optim.lr` update t uses.

The multipliers are those of the `transformers` schedule functions
(get_{constant,linear,cosine}_schedule_with_warmup, cosine with half a cycle), written out here as
plain formulas so the engine needs no such dependency. The scheduler is stepped once after each
update, so update t (0-based) uses multiplier(t): with a warm-up the very first update has lr 0.
"""

from __future__ import annotations

import math

from stepper.trace import Formula

WARMUP_FORMULA = Formula(
    plain="m(t) = t / max(1, warmup)   for t < warmup",
    latex=r"m(t) = \frac{t}{\max(1, \mathrm{warmup})} \quad (t < \mathrm{warmup})",
    meaning="Warm-up: the first updates take small, growing steps while Adam's moments and the weights settle.",
)

FORMULAS = {
    "constant": Formula(
        plain="α_t = α · m(t),  m(t) = 1 after the warm-up",
        latex=r"\alpha_t = \alpha\, m(t),\quad m(t) = 1",
        meaning="After the warm-up every update uses the full learning rate.",
    ),
    "linear": Formula(
        plain="α_t = α · m(t),  m(t) = max(0, (U − t) / max(1, U − warmup))",
        latex=r"\alpha_t = \alpha\, m(t),\quad m(t) = \max\!\Big(0, \frac{U - t}{\max(1, U - \mathrm{warmup})}\Big)",
        meaning="After the warm-up the learning rate falls in a straight line, reaching 0 at the last update U.",
    ),
    "cosine": Formula(
        plain="α_t = α · m(t),  p = (t − warmup) / max(1, U − warmup),  m(t) = max(0, ½(1 + cos(π·p)))",
        latex=r"\alpha_t = \alpha\, m(t),\quad p = \frac{t - \mathrm{warmup}}{\max(1, U - \mathrm{warmup})},"
              r"\quad m(t) = \max\!\big(0, \tfrac12 (1 + \cos \pi p)\big)",
        meaning="After the warm-up the learning rate follows half a cosine wave: flat at first, steepest "
                "midway, gentle again near the end.",
    ),
}


def multiplier(kind: str, warmup: int, total: int, t: int) -> float:
    """The factor update t (0-based) applies to the base learning rate; `total` is the number of updates."""
    if t < warmup:
        return float(t) / float(max(1, warmup))
    if kind == "constant":
        return 1.0
    if kind == "linear":
        return max(0.0, float(total - t) / float(max(1, total - warmup)))
    if kind == "cosine":
        progress = float(t - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    raise ValueError(f"unknown schedule kind {kind!r}")


def learning_rates(lr: float, kind: str, warmup: int, total: int):
    """lr × multiplier(t) for every update t of `total`, as a list of floats."""
    return [lr * multiplier(kind, warmup, total, t) for t in range(total)]
