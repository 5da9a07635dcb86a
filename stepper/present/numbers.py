"""Every way a number is written for people, one named variant per place it appears.

All of them read a number without its round-off first (stepper/roundoff.py), so residue prints as
0 and a value on a rounding boundary rounds alike on every machine:

- `table_number`: a markdown table's entry, at the export's precision (`--precision`)
- `MatrixFormat`: one format for a whole matrix in the app, so its columns line up
- `lone_number`: a loss, an error, a tolerance in the app, in the fewest characters
- `worked_number` / `worked_term`: an operand of a worked line, at 4 digits, `×10ⁿ` not `e`
- `six_digits`: a setting as the engine recorded it (from roundoff, which the engine also reads)
- `error_bound`: a measured round-off error as a bound that reads alike everywhere
- `given_number`: a setting as short as Python writes it (`1e-10`): the export's tolerances
"""

from __future__ import annotations

import math

import numpy as np

from stepper.roundoff import denoised, scale_of, six_digits, steady

__all__ = ["MINUS_INF", "PLUS_INF", "MatrixFormat", "error_bound", "given_number", "lone_number", "six_digits",
           "table_number", "worked_number", "worked_term"]

MINUS_INF = "−∞"
PLUS_INF = "+∞"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def table_number(x: float, precision: int, scale: float = 1.0) -> str:
    """One entry at `precision` significant digits, read without its round-off relative to `scale`
    (its table's largest entry), so round-off residue prints as 0; −∞/∞ written as such."""
    x = steady(x, scale)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:.{precision}g}"


class MatrixFormat:
    """One format per matrix, so a column of numbers lines up and reads the same way. Entries are
    read without their round-off: residue prints as 0, as in the export."""

    def __init__(self, values: np.ndarray):
        self.scale = scale_of(values) if values.dtype.kind == "f" else 0.0
        if values.dtype.kind == "f":
            values = denoised(values, self.scale)
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        # token ids and one-hot targets arrive as floats; whole numbers read better whole
        self.integer = values.dtype.kind in "iub" or bool(
            finite.size and finite.size == values.size and np.all(finite == np.round(finite))
            and np.max(np.abs(finite)) < 1e6 and np.any(finite != 0))
        biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
        # gradients are often all below 1e-2; fixed decimals would show them as a wall of 0.000
        self.scientific = not self.integer and (biggest >= 1e4 or 0 < biggest < 1e-2)

    def __call__(self, v: float) -> str:
        if self.integer:
            return str(int(v))
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return MINUS_INF if v < 0 else PLUS_INF
        v = steady(v, self.scale)
        if v == 0:
            return "0"
        if self.scientific:
            return f"{v:.2e}"
        # a tiny value beside large ones rounds to zero: "0.000", never "-0.000", which reads as a sign
        return f"{v:.3f}" if abs(v) >= 5e-4 else "0.000"


def lone_number(v: float) -> str:
    """A lone number (loss, error, tolerance) in the fewest characters that stay exact enough."""
    if math.isinf(v):
        return MINUS_INF if v < 0 else PLUS_INF
    if v == 0:
        return "0"
    return f"{v:.3g}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4f}".rstrip("0").rstrip(".")


def worked_number(x: float) -> str:
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


def worked_term(x: float) -> str:
    """`worked_number`, bracketed when negative, for a place after `+` or `·`."""
    text = worked_number(x)
    return f"({text})" if text.startswith("−") else text


def error_bound(err: float) -> str:
    """A measured round-off error as a bound (`< 1e-12`, `< 1e-11`, …) that reads the same on every
    machine, where the error itself differs in its last bits between CPUs and thread counts."""
    if err < 1e-12:
        return "< 1e-12"
    if not math.isfinite(err):
        return "∞"
    exp = math.ceil(math.log10(err))
    return f"< 1e{exp + (10.0 ** exp == err)}" if err < 1e-9 else f"{err:.2g}"


def given_number(x: float) -> str:
    """A setting as short as Python writes it (`1e-10`, `0.5`): a tolerance as the scenario or flag gave it."""
    return f"{x:g}"
