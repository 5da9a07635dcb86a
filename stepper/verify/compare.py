"""The checker: every keyed output of every step against the independent reference."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from stepper.trace import Step, Tensor, Trace
from stepper.verify.verdicts import NOTHING_TO_COMPARE, RECOUNT, Check

REFERENCE = "torch.autograd"
NOTHING = NOTHING_TO_COMPARE
TOKENIZER_KEYS = "tok."  # docs/trace-keys.md, "Tokenizer"


class KeyedReference(Protocol):
    def get(self, key: str) -> np.ndarray: ...


Compared = dict  # (key, id(array)) -> Comparison, `where` without its symbol: whole outputs already compared


def verify_trace(trace: Trace, reference: KeyedReference, tol: float = 1e-10, compared: Compared | None = None,
                 known: dict[str, Check] | None = None) -> dict[str, Check]:
    """Every step's Check, by step id in the trace's order: forward steps compared first, then backward.

    Writes nothing into the trace. `compared` (filled as it goes) may already hold whole keyed
    outputs compared before (see `compare_grads_as_made`), so `check_totals` need not compare them again;
    a step in `known` keeps the Check found there (see `forward_checks`).
    """
    compared = {} if compared is None else compared
    found = dict(known or {})
    for phase in ("forward", "backward", None):  # None: a phase the checker does not know still gets a verdict
        for step in trace.steps:
            if step.id not in found and (phase is None or step.phase == phase):
                found[step.id] = check_step(step, reference, tol, compared)
    return {step.id: found[step.id] for step in trace.steps}


def check_step(step: Step, reference: KeyedReference, tol: float = 1e-10, compared: Compared | None = None) -> Check:
    check = check_outputs(step.outputs, reference, tol, compared)
    keys = [t.key for t in step.outputs.values() if t.key]
    if keys and all(k.startswith(TOKENIZER_KEYS) for k in keys):  # no torch in it: say what checked it
        return dataclasses.replace(check, reference=RECOUNT)
    return check


def check_outputs(outputs: dict[str, Tensor], reference: KeyedReference, tol: float = 1e-10,
                  compared: Compared | None = None) -> Check:
    """The outputs' largest error, and their verdict; `compared` both remembers results and answers from them.

    `max_abs_err` is the largest absolute error of any output. The verdict is every entry within
    `tol` times its own size (see `compare_values`); the entry named is a failing one if there is
    one, else the largest error's.
    """
    top, failing = None, None  # (error, where, scale) of the largest error, and of the worst failing output
    for symbol, tensor in outputs.items():
        if tensor.key is None:
            continue
        whole = compared is not None and not tensor.index
        memo = (tensor.key, id(tensor.value))
        if whole and memo in compared:
            err, where, scale, ok = compared[memo]
            where = f"{symbol}{where}"
        else:
            err, where, scale, ok = compare_tensor(symbol, tensor, reference, tol)
            if whole:
                remember(compared, tensor.key, tensor.value, symbol, (err, where, scale, ok))
        # strict `>`: when everything agrees exactly, the first output is the one named
        if top is None or err > top[0]:
            top = (err, where, scale)
        if not ok and (failing is None or err > failing[0]):
            failing = (err, where, scale)
    if top is None:
        return Check(reference=REFERENCE, max_abs_err=0.0, tolerance=tol, ok=True, worst=NOTHING)
    _, where, scale = failing or top
    return Check(reference=REFERENCE, max_abs_err=top[0], tolerance=tol, ok=failing is None, worst=where,
                 scale=scale)


Comparison = tuple[float, str, float, bool]  # (max abs error, where, scale, every entry within its allowance)


def remember(compared: Compared, key: str, value: np.ndarray, symbol: str, result: Comparison) -> None:
    err, where, scale, ok = result
    compared[(key, id(value))] = (err, where[len(symbol):], scale, ok)  # without the symbol: another step may name it


def compare_tensor(symbol: str, tensor: Tensor, reference: KeyedReference, tol: float = 1e-10) -> Comparison:
    """The `Comparison` of one keyed output: its max abs error, `symbol [i, j]` of the entry to name,
    that entry's scale and the verdict (see `compare_values`)."""
    try:
        ref = np.asarray(reference.get(tensor.key), dtype=np.float64)[to_index(tensor.index)]
    except (KeyError, IndexError, ValueError, RuntimeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return math.inf, f"{symbol}: no reference value for `{tensor.key}` ({msg})", 1.0, False
    return compare_values(symbol, tensor.value, ref, tensor.key, tol)


def compare_values(symbol: str, value: np.ndarray, ref: np.ndarray, key: str, tol: float = 1e-10) -> Comparison:
    """`compare_tensor` once the reference's `key` is in hand as `ref`.

    float64 carries about 16 significant digits, so an entry near 1e5 (a learner's wide model)
    can differ in its last digits by more than 1e-10 with no formula at fault. An entry therefore
    passes when its error is within `tol` times its own size, max(1, |reference entry|); `where`
    and the scale returned are those of a failing entry if there is one, else of the largest
    error. Worked out only when the largest error is past `tol`, so a comparison that passes
    reads the arrays once.
    """
    value = np.asarray(value, dtype=np.float64)
    if value.shape != ref.shape:
        return math.inf, (f"{symbol}: shape [{_dims(value.shape)}] but the reference "
                          f"`{key}` is [{_dims(ref.shape)}]"), 1.0, False
    if value.size == 0:
        return 0.0, f"{symbol} (empty)", 1.0, True
    err, flat = worst_entry(value, ref)
    scale, ok = 1.0, err <= tol
    if not ok and math.isfinite(err):
        size = np.maximum(1.0, np.abs(np.ravel(ref)))
        size[~np.isfinite(size)] = 1.0  # an infinity both sides agree on has error 0 anyway
        relative = entry_errors(np.ravel(value), np.ravel(ref))
        relative /= size
        worst_relative = int(np.argmax(relative))
        ok = bool(relative[worst_relative] <= tol)
        if not ok:  # this entry fails on its own scale: it is the one to name
            flat = worst_relative
        scale = float(size[flat])
    pos = np.unravel_index(flat, value.shape)
    return err, (f"{symbol} [{_dims(pos)}]" if pos else symbol), scale, ok


_CHUNK = 1 << 16  # entries per slice: the scratch stays in cache and a large gradient needs no temporary
_SPLIT = 1 << 18  # entries from which a comparison is shared between threads (numpy lets go of the GIL)


def worst_entry(value: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """(largest |value - ref|, its flat index); the first of equal maxima wins.

    Reading two large gradients is bound by memory bandwidth, which one core does not fill: a
    large comparison is cut into one part per core, read in parallel (1.5× faster on 2 cores).
    """
    a, b = np.ravel(value), np.ravel(ref)
    parts = min(_cores(), a.size // _SPLIT)
    if parts < 2:
        return _worst_in(a, b, 0, a.size)
    bounds = [a.size * k // parts for k in range(parts + 1)]
    futures = [_pool().submit(_worst_in, a, b, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:], strict=True)]
    results = [_worst_in(a, b, 0, bounds[1]), *(f.result() for f in futures)]
    return max(results, key=lambda r: (r[0], -r[1]))  # the largest; of equals, the earliest


def _worst_in(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> tuple[float, int]:
    """`worst_entry` of a[lo:hi] against b[lo:hi], slice by slice; the index is into the whole."""
    scratch = np.empty(min(hi - lo, _CHUNK))
    best, where = -1.0, lo
    for start in range(lo, hi, _CHUNK):
        stop = min(start + _CHUNK, hi)
        err = scratch[:stop - start]
        with np.errstate(invalid="ignore", over="ignore"):
            np.subtract(a[start:stop], b[start:stop], out=err)
            np.abs(err, out=err)
        top = err.max()
        if not np.isfinite(top):  # NaN or inf somewhere: the careful rules, for this slice only
            err = entry_errors(a[start:stop], b[start:stop])
            top = err.max()
        if top > best:
            best, where = float(top), start + int(np.argmax(err))
    return best, where


@functools.cache
def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cores() -> int:
    return min(4, usable_cores())  # a comparison past four parts is bound by memory, not cores


_POOL: ThreadPoolExecutor | None = None  # made on first use, by whichever thread comes first
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_cores() - 1, thread_name_prefix="compare")
        return _POOL


def _forget_pool_in_child() -> None:
    # a forked child has none of the pool's threads: it makes its own if it ever compares
    global _POOL, _POOL_LOCK
    _POOL_LOCK, _POOL = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def entry_errors(value: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|value - ref| per entry; equal infinities (and NaN against NaN) agree, any other non-finite is inf."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.asarray(np.subtract(value, ref))
        np.abs(err, out=err)  # in place: a large gradient is compared with one temporary, not three
    if np.isfinite(err.max()):  # the usual case (NaN or inf would make the max non-finite)
        return err
    agree = (value == ref) | (np.isnan(value) & np.isnan(ref))
    err = np.where(agree, 0.0, err)
    return np.where(np.isfinite(err), err, math.inf)


def to_index(index) -> tuple:
    """A Tensor index (ints and slices; from JSON also `[start, stop]` lists) as a numpy index."""
    out = []
    for entry in index or ():
        if isinstance(entry, list | tuple):
            out.append(slice(*entry))
        elif entry is None:
            out.append(slice(None))
        else:
            out.append(entry)
    return tuple(out)


def check_totals(trace: Trace, reference, tol: float = 1e-10, compared: Compared | None = None) -> Check:
    """`trace.loss` and every `trace.grads[name]` against the reference, as one Check.

    A gradient already compared (`compared`: by `verify_trace` for a step that shows it, or by
    `compare_grads_as_made` as torch's backward made it) counts with the error found then, rather than
    being compared a second time (that would double the cost on a large model); every other one
    is compared here.
    """
    outputs = {"loss": Tensor("loss", np.asarray(trace.loss, dtype=np.float64), key="loss")}
    # a reference whose parameter gradients were compared and let go still knows their names
    names = set(trace.grads) | set(getattr(reference, "param_names", ()))
    for name in sorted(names):
        value = trace.grads.get(name)
        if value is None:
            return Check(REFERENCE, math.inf, tol, False, f"trace.grads has no `{name}`")
        outputs[f"d{name}"] = Tensor(f"d{name}", value, key=f"d:{name}")
    return check_outputs(outputs, reference, tol, dict(compared or {}))


def _dims(shape) -> str:
    return ", ".join(str(int(n)) for n in shape)
