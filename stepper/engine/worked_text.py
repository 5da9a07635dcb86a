"""The text of a worked line: numbers at 4 digits as a reader writes them, and labelled entries."""

from __future__ import annotations

import math

import numpy as np

from stepper.roundoff import steady
from stepper.trace import visible_label

TERMS = 4  # a sum longer than this shows its first terms, then "+ …"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def num(x: float) -> str:
    """A number to 4 significant digits, `−` for minus, ×10ⁿ rather than e-notation (which reads
    like a power of e inside a softmax line). Round-off residue prints as 0."""
    x = steady(x)
    if math.isinf(x):
        return "−∞" if x < 0 else "∞"
    text = f"{x:.4g}"
    if "e" in text:
        mantissa, power = text.split("e")
        text = f"{mantissa}×10{str(int(power)).translate(_SUPERSCRIPT)}"
    return text.replace("-", "−")


def term(x: float) -> str:
    """`num`, bracketed when negative, for a place after `+` or `·`."""
    text = num(x)
    return f"({text})" if text.startswith("−") else text


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
