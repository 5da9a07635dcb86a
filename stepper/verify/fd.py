"""Finite-difference gradient check: numpy only, so it can stand beside torch-free code.

Central differences `(L(p + eps) - L(p - eps)) / 2eps` on every parameter entry of a tiny
model, or on a seeded sample of entries per parameter for bigger ones.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

ABS_TOL = 1e-6
REL_TOL = 1e-5
FULL_CHECK_LIMIT = 5000  # total entries up to which every entry is checked
SAMPLE_PER_PARAM = 20


@dataclass
class ParamFD:
    max_abs_err: float
    n_checked: int
    worst_index: tuple[int, ...]


@dataclass
class FDReport:
    ok: bool
    max_abs_err: float
    worst_param: str | None
    worst_index: tuple[int, ...]
    worst_analytic: float
    worst_numeric: float
    worst_rel_err: float
    n_checked: int
    eps: float
    n_total: int = 0  # parameter entries in the model; n_checked < n_total when a sample was taken
    per_param: dict[str, ParamFD] = field(default_factory=dict)

    def summary(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        if self.worst_param is None:
            return f"finite differences: {verdict}, nothing to check"
        idx = ", ".join(map(str, self.worst_index))
        which = "every parameter entry" if self.n_checked == self.n_total else f"a seeded sample of the {self.n_total}"
        return (f"finite differences (central, eps {self.eps:g}): {verdict} — {self.n_checked} entries ({which}), "
                f"each within {ABS_TOL:g} absolute or {REL_TOL:g} relative; worst {self.worst_param}[{idx}]: "
                f"analytic {self.worst_analytic:.12g} vs numeric {self.worst_numeric:.12g} "
                f"(abs {self.worst_abs_err:.3g}, rel {self.worst_rel_err:.3g})")

    @property
    def worst_abs_err(self) -> float:
        return abs(self.worst_analytic - self.worst_numeric)


def finite_difference_check(scenario, loss_fn: Callable[[dict[str, np.ndarray]], float],
                            grads: Mapping[str, np.ndarray], eps: float = 1e-6,
                            max_entries_per_param: int | None = None, seed: int = 0) -> FDReport:
    """Compares `grads` with central differences of `loss_fn` around `scenario.params`.

    With `max_entries_per_param` None, every entry is checked when the model has at most
    5000 in total, else 20 seeded entries per parameter; given, it caps each parameter.
    """
    base = {name: np.array(value, dtype=np.float64) for name, value in scenario.params.items()}
    total = sum(v.size for v in base.values())
    cap = max_entries_per_param
    if cap is None and total > FULL_CHECK_LIMIT:
        cap = SAMPLE_PER_PARAM

    report = FDReport(ok=True, max_abs_err=0.0, worst_param=None, worst_index=(), worst_analytic=0.0,
                      worst_numeric=0.0, worst_rel_err=0.0, n_checked=0, eps=eps, n_total=total)
    worst_badness = -1.0
    for name, value in base.items():
        if name not in grads:
            raise KeyError(f"no analytic gradient for parameter `{name}`")
        analytic = np.asarray(grads[name], dtype=np.float64)
        if analytic.shape != value.shape:
            raise ValueError(f"gradient of `{name}` has shape {analytic.shape}, the parameter {value.shape}")
        per = ParamFD(max_abs_err=0.0, n_checked=0, worst_index=())
        for flat in _entries(name, value.size, cap, seed):
            idx = tuple(int(i) for i in np.unravel_index(flat, value.shape))
            numeric = _central(loss_fn, base, name, idx, eps)
            a = float(analytic[idx])
            abs_err = abs(a - numeric)
            rel_err = abs_err / max(abs(a), abs(numeric)) if abs_err else 0.0
            # how far past its tolerance this entry is; an entry passes by either measure
            badness = min(abs_err / ABS_TOL, rel_err / REL_TOL)
            if not np.isfinite(numeric) or not np.isfinite(a):
                abs_err = rel_err = badness = float("inf")
            per.n_checked += 1
            if per.n_checked == 1 or abs_err > per.max_abs_err:
                per.max_abs_err, per.worst_index = abs_err, idx
            if badness > worst_badness:
                worst_badness = badness
                report.worst_param, report.worst_index = name, idx
                report.worst_analytic, report.worst_numeric, report.worst_rel_err = a, numeric, rel_err
        report.per_param[name] = per
        report.n_checked += per.n_checked
        report.max_abs_err = max(report.max_abs_err, per.max_abs_err)
    report.ok = worst_badness <= 1.0
    return report


def _entries(name: str, size: int, cap: int | None, seed: int) -> np.ndarray:
    if cap is None or size <= cap:
        return np.arange(size)
    # seeded by (seed, name) so a parameter's sample does not depend on which others exist
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return np.sort(rng.choice(size, size=cap, replace=False))


def _central(loss_fn, base: dict[str, np.ndarray], name: str, idx: tuple[int, ...], eps: float) -> float:
    work = dict(base)
    shifted = base[name].copy()
    work[name] = shifted
    shifted[idx] = base[name][idx] + eps
    up = float(loss_fn(work))
    shifted = base[name].copy()  # fresh, in case loss_fn kept a reference to the last array
    work[name] = shifted
    shifted[idx] = base[name][idx] - eps
    down = float(loss_fn(work))
    return (up - down) / (2 * eps)
