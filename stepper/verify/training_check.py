"""Training checked update by update: a TrainingLog against the independent torch run (`reference_fit`).

`check_training(log, sc)` gives one Check per figure — batch losses, learning rates, gradient
norms (total, and per layer), validation, the parameters after every update, the trained parameters,
BatchNorm's running statistics and where training stopped. A disagreement names the update, the
parameter and the entry: "update 17: layers.0.attn.W_Q[2, 3] is 0.1234 here, 0.1235 in torch
(|Δ| 3.1e-08)". The log is read by its field names only (batch_losses, lr, grad_norm,
layer_grad_norm, val_loss, val_accuracy, val_after, param_names, param_history [U, P], trained,
running, stopped_at). Parameters are compared as torch makes them,
so the U copies of the model are never all held twice.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.scenario.types import Scenario
from stepper.verify.reference_fit import MasksFor, ReferenceFit, fit_reference
from stepper.verify.verdicts import Check

REFERENCE = "torch training"


class _Finding:
    """The largest error over a figure, and the first failing entry (the earliest update, where it began)."""

    def __init__(self, what: str, tol: float) -> None:
        self.what, self.tol = what, tol
        self.err, self.top, self.failing, self.scale = 0.0, "", None, 1.0

    def compare(self, ours, theirs, name: str, prefix: str = "") -> None:
        """`ours` (the log) against `theirs` (torch), entries named `name[i, j]` after `prefix`."""
        ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
        if ours.shape != theirs.shape:
            self.fail(math.inf, f"{prefix}{name} has shape {list(ours.shape)} here, {list(theirs.shape)} in torch")
            return
        if ours.size == 0:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(ours - theirs)
        # the same non-finite value on both sides agrees (a run stopped by a NaN loss records it)
        same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
        err = np.where(same, 0.0, np.where(np.isnan(err), math.inf, err))
        allowed = self.tol * np.maximum(1.0, np.nan_to_num(np.abs(theirs), nan=1.0, posinf=1.0))
        bad = np.flatnonzero(err > allowed)
        at = int(bad[np.argmax(err.ravel()[bad])]) if bad.size else int(np.argmax(err))
        say = (f"{prefix}{name}{_entry(at, ours.shape)} is {_num(ours.ravel()[at])} here, "
               f"{_num(theirs.ravel()[at])} in torch (|Δ| {err.ravel()[at]:.2g})")
        if bad.size:
            self.fail(float(err.max()), say, max(1.0, abs(float(theirs.ravel()[at]))))
        elif not self.top or float(err.max()) > self.err:  # strict: when all agree, the first is named
            self.err, self.top = float(err.max()), say

    def fail(self, err: float, say: str, scale: float = 1.0) -> None:
        self.err = max(self.err, err)
        if self.failing is None:
            self.failing, self.scale = say, scale

    def check(self) -> Check:
        worst = self.failing or self.top or f"{self.what}: nothing to compare"
        return Check(f"{REFERENCE}: {self.what}", self.err, self.tol, self.failing is None, worst, self.scale)


def _entry(flat: int, shape: tuple) -> str:
    return "" if len(shape) == 0 else "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _num(v: float) -> str:
    return f"{v:.12g}"


def check_training(log, sc: Scenario, tol: float = 1e-9, masks_for: MasksFor | None = None) -> list[Check]:
    """Every figure of `log` (a TrainingLog) against torch's own training of `sc`."""
    return compare_training(log, sc, tol, masks_for)[0]


def compare_training(log, sc: Scenario, tol: float = 1e-9, masks_for: MasksFor | None = None
                     ) -> tuple[list[Check], ReferenceFit, dict[str, np.ndarray]]:
    """`check_training`'s Checks, torch's run itself, and torch's parameters after update 0 (by name),
    which the trace's first-update steps are compared with."""
    names = list(log.param_names)
    shapes = [np.shape(sc.params[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    # torch's flat rows follow sc.params; the log's follow its param_names
    starts = dict(zip(list(sc.params), np.cumsum([0] + [np.size(v) for v in sc.params.values()]), strict=False))
    order = np.concatenate([np.arange(starts[n], starts[n] + k) for n, k in zip(names, sizes, strict=True)])
    history = np.asarray(log.param_history)
    params = _Finding("parameters after each update", tol)

    first: dict[str, np.ndarray] = {}

    def on_update(t: int, flat: np.ndarray) -> None:
        if t == 0:
            first.update(unflatten(flat, sc))
        if t >= len(history):
            if t == log.stopped_at:  # the update that stopped changed nothing: a log may leave out its row
                return
            params.fail(math.inf, f"update {t}: no parameters recorded here after it (torch has them)")
            return
        theirs, at = flat[order], 0
        for name, shape, k in zip(names, shapes, sizes, strict=True):
            params.compare(history[t, at:at + k].reshape(shape), theirs[at:at + k].reshape(shape), name,
                           f"update {t}: ")
            at += k

    ref = fit_reference(sc, masks_for=masks_for, on_update=on_update)
    ran = len(ref.batch_losses)
    if len(history) > ran:
        params.fail(math.inf, f"{len(history)} updates of parameters here, {ran} in torch")
    checks = [_per_update(what, getattr(log, key), getattr(ref, key), tol)
              for key, what in (("batch_losses", "batch loss"), ("lr", "learning rate"),
                                ("grad_norm", "gradient norm"))]
    checks.append(_per_layer(log.layer_grad_norm, ref.layer_grad_norm, tol))
    checks += _validation(log, ref, tol)
    checks.append(params.check())
    trained = _Finding("trained parameters", tol)
    for name in names:
        trained.compare(log.trained[name], ref.trained[name], name)
    checks.append(trained.check())
    if ref.running or getattr(log, "running", None):
        checks.append(_running(log.running or {}, ref.running, tol))
    checks.append(_stopped(log.stopped_at, ref.stopped_at, tol))
    return checks, ref, first


def unflatten(flat: np.ndarray, sc: Scenario) -> dict[str, np.ndarray]:
    out, at = {}, 0
    for name, value in sc.params.items():
        size = int(np.size(value))
        out[name] = flat[at:at + size].reshape(np.shape(value)).copy()
        at += size
    return out


def _per_update(what: str, ours, theirs, tol: float) -> Check:
    found = _Finding(what + "es" if what.endswith("loss") else what + "s", tol)
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        found.fail(math.inf, f"{len(ours)} {found.what} here, {len(theirs)} in torch")
    for t in range(min(len(ours), len(theirs))):
        found.compare(ours[t], theirs[t], f"the {what}", f"update {t}: ")
    return found.check()


def _per_layer(ours: dict, theirs: dict, tol: float) -> Check:
    """Each layer's gradient norm (trace_keys.layer_group) at each update."""
    found = _Finding("per-layer gradient norms", tol)
    if list(ours) != list(theirs):
        found.fail(math.inf, f"gradient norms per {', '.join(ours) or 'nothing'} here, "
                             f"per {', '.join(theirs)} in torch")
    for group in (g for g in theirs if g in ours):
        mine, torch_s = np.asarray(ours[group], dtype=np.float64), theirs[group]
        if mine.shape != torch_s.shape:
            found.fail(math.inf, f"{len(mine)} gradient norms of {group} here, {len(torch_s)} in torch")
        for t in range(min(len(mine), len(torch_s))):
            found.compare(mine[t], torch_s[t], f"the gradient norm of {group}", f"update {t}: ")
    return found.check()


def _validation(log, ref, tol: float) -> list[Check]:
    after = np.asarray(log.val_after, dtype=np.int64)
    out = []
    for key, what in (("val_loss", "validation loss"), ("val_accuracy", "validation accuracy")):
        found = _Finding(what, tol)
        ours, theirs = np.asarray(getattr(log, key), dtype=np.float64), getattr(ref, key)
        if key == "val_loss" and not np.array_equal(after, ref.val_after):
            found.fail(math.inf, f"validation ran after updates {after.tolist()} here, "
                                 f"{ref.val_after.tolist()} in torch")
        if ours.shape != theirs.shape:
            found.fail(math.inf, f"{len(ours)} {what} figures here, {len(theirs)} in torch")
        for v in range(min(len(ours), len(theirs))):
            found.compare(ours[v], theirs[v], f"the {what}", f"validation {v} (after update {ref.val_after[v]}): ")
        out.append(found.check())
    return out


def _running(ours: dict, theirs: dict, tol: float) -> Check:
    found = _Finding("BatchNorm running statistics", tol)
    for name in sorted(set(ours) - set(theirs)):
        found.fail(math.inf, f"running statistics `{name}` here have no counterpart in torch "
                             f"(torch's: {', '.join(theirs) or 'none'})")
    for name, (mean, var) in theirs.items():
        if name not in ours:
            found.fail(math.inf, f"no running statistics `{name}` here (torch has them)")
            continue
        found.compare(ours[name][0], mean, f"{name}.running_mean")
        found.compare(ours[name][1], var, f"{name}.running_var")
    return found.check()


def _stopped(ours: int | None, theirs: int | None, tol: float) -> Check:
    def say(t: int | None) -> str:
        return "ran to the end" if t is None else f"stopped at update {t} (a loss or gradient not finite)"

    ok = ours == theirs
    return Check(f"{REFERENCE}: where training stopped", 0.0 if ok else math.inf, tol, ok,
                 f"training {say(ours)} here" + ("" if ok else f", {say(theirs)} in torch"))
