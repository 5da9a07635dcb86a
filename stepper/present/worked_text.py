"""The text of a worked line: labelled entries and written-out sums, numbers as `numbers.worked_number`."""

from __future__ import annotations

import numpy as np

from stepper.present.labels import visible_label
from stepper.present.numbers import worked_number as num
from stepper.present.numbers import worked_term as term

TERMS = 4  # a sum longer than this shows its first terms, then "+ …"

__all__ = ["TERMS", "dot", "entry", "label", "num", "term"]


def label(labels: list[str] | None, k: int) -> str:
    return visible_label(labels[k]) if labels is not None and k < len(labels) else str(k)


def entry(symbol: str, rows: list[str] | None, cols: list[str] | None, i: int, j: int | None = None) -> str:
    """`S[am, I]` (or `S[1, 0]` without labels); `b[d0]` with one index, labelled by `cols`."""
    if j is None:
        return f"{symbol}[{label(cols, i)}]"
    return f"{symbol}[{label(rows, i)}, {label(cols, j)}]"


def dot(a: np.ndarray, b: np.ndarray) -> str:
    """`a₀·b₀ + a₁·b₁ + …`, the first TERMS products written out."""
    shown = " + ".join(f"{term(x)}·{term(y)}" for x, y in zip(a[:TERMS], b[:TERMS], strict=True))
    return shown + (f" + … ({len(a)} terms)" if len(a) > TERMS else "")
