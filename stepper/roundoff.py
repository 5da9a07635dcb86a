"""Round-off: keeping what is printed and what is chosen the same on every machine.

Two machines agree on float64 arithmetic only up to its last bits: BLAS kernels, thread counts and
summation order differ. So nothing shown may hang on those bits:

- an entry within NOISE of zero, relative to its tensor's scale (or to 1, whichever is larger), is
  round-off: it is read as exactly 0, so a gradient that is zero in exact arithmetic prints `0`
  everywhere, never `≈0` here, `0` there or a sign that flips;
- every other entry is read at DIGITS significant digits before it is rounded for print, so a value
  that sits exactly on a rounding boundary in exact arithmetic rounds the same way everywhere;
- a choice of "the largest" breaks a tie by the first index among the entries equal up to TIE.

Every formatter (stepper/present/numbers.py) reads its numbers through `steady`, what is chosen or
coloured is first `denoised`, and every choice of an entry goes through `ranked`. This module is a
leaf that the engine (its choices, its recorded settings) and the present layer both read.
"""

from __future__ import annotations

import math

import numpy as np

NOISE = 1e-12  # below this fraction of the scale, an entry is round-off
DIGITS = 12  # significant digits an entry is read at: float64 round-off here stays far below the 12th
TIE = 1e-9  # entries closer than this fraction of the scale are equal for the purpose of a choice


def scale_of(values) -> float:
    """The largest finite magnitude (0 when there is none): what an entry is small or close relative to."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    finite = v[np.isfinite(v)]
    return float(finite.max()) if finite.size else 0.0


def steady(x: float, scale: float = 1.0) -> float:
    """`x` without its round-off: 0.0 at noise level, else at DIGITS significant digits; ±∞ and NaN as they are."""
    x = float(x)
    if not math.isfinite(x):
        return x
    if abs(x) <= NOISE * max(1.0, scale):
        return 0.0  # also turns −0.0 into 0.0, so no "-0" is ever printed
    return float(f"{x:.{DIGITS - 1}e}")


def denoised(values, scale: float | None = None) -> np.ndarray:
    """A float64 copy with every entry at noise level (relative to the array's own scale unless one
    is given) set to exactly 0: what a choice or a colour may be made from."""
    v = np.array(values, dtype=np.float64)
    s = scale_of(v) if scale is None else scale
    v[np.abs(v) <= NOISE * max(1.0, s)] = 0.0
    return v


def steady_array(values, scale: float | None = None) -> np.ndarray:
    """`steady` for every entry, relative to the array's own scale unless one is given (small arrays:
    it formats each entry)."""
    v = np.asarray(values, dtype=np.float64)
    s = scale_of(v) if scale is None else scale
    return np.vectorize(lambda x: steady(x, s), otypes=[np.float64])(v) if v.size else v.copy()


def ranked(values, allowed=None) -> list[int]:
    """Flat indices of the allowed finite entries, largest first; entries within TIE·scale of each
    other count as equal and keep index order, so round-off never decides which comes first."""
    # entries at noise level are 0 first: among round-off, "the largest" would be the machine's choice
    v = np.ravel(denoised(values))
    ok = np.isfinite(v) if allowed is None else np.isfinite(v) & np.ravel(np.asarray(allowed, dtype=bool))
    idx = np.flatnonzero(ok)
    if not idx.size:
        return []
    tol = TIE * max(scale_of(v[idx]), np.finfo(np.float64).tiny)
    by_value = idx[np.argsort(-v[idx], kind="stable")]
    out: list[int] = []
    group: list[int] = []
    for k in by_value:
        if group and v[group[0]] - v[k] > tol:  # measured from the group's largest: ties do not chain on
            out += sorted(group)
            group = []
        group.append(int(k))
    return out + sorted(group)


def first_largest(values, allowed=None) -> tuple[int, ...]:
    """The index of the largest allowed finite entry, the first of those equal up to TIE (index 0…
    when no entry is allowed)."""
    v = np.asarray(values, dtype=np.float64)
    order = ranked(v, allowed)
    return tuple(int(i) for i in np.unravel_index(order[0] if order else 0, v.shape))


def six_digits(x: float) -> str:
    """`x` at 6 significant digits without its round-off: how the engine records a setting it used
    (a step's bindings, `ε = 1e-05`), and how an update's worked line quotes the same numbers."""
    return f"{steady(x):.6g}"
