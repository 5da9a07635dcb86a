"""Every number a bundled lesson quotes is a number of its own trace, to the precision the lesson prints.

A lesson that says "the gradient shrinks 350-fold" or "(5, 15) reads 3.646" makes a claim about the numbers
the learner sees beside it; this test holds each such claim to the trace. Each numeric literal of each lesson
is matched against every value the trace holds: each step's input and output entries, its bindings and
worked lines, the parameters and gradients, the loss and the losses of training, each update's figures
(batch loss, learning rate, gradient norm in total and per layer, validation), the settings of the
scenario (d_model, lr, …), every shape dimension and index, and the step numbers. "3.646" matches a value in
[3.6455, 3.6465]; "−0.959" only a negative one; "20,000" any value that rounds to it at its last non-zero
digit. What is not data (a formula's constants, an epsilon) is in ALLOWED, each with its reason.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.present.worked import worked_line
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))

# (scenario, literal as printed) → why it is not a number of the trace
ALLOWED: dict[tuple[str, str], str] = {
    ("positional_sincos", "10000"): "the base of the sinusoidal formula, ω_i = 1 / 10000^(2i/d)",
    # param_count works its formula for a model of another size, which no trace here holds; the counts are
    # recomputed from the formula in test_scenario_library
    **{("param_count", n): "a layer of a d = 512 or 1024, d_ff = 2048 model, counted by the lesson's formula"
       for n in ("2048", "1024", "3,152,384", "8,399,872", "2.66")},
}

# a number standing alone: not part of a name (W_1, d14, L0, h0), nor a factor written against a symbol (2π, 2i)
NUMBER = re.compile(r"(?<![\w.^/])([−-]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:e([−-]?\d+))?(?![\w])")


def literals(text: str) -> list[tuple[str, float, float]]:
    """(as printed, value, half a unit of its last printed digit) for every number in `text`."""
    found = []
    for m in NUMBER.finditer(text):
        sign, whole, frac, exp = m.groups()
        digits = whole.replace(",", "")
        value = float(digits + (frac or "")) * (-1 if sign else 1)
        if frac:
            unit = 10.0 ** -(len(frac) - 1)
        else:  # 20,000 is rounded to its last non-zero digit; 8 and 300 are exact to the unit
            zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
            unit = 10.0 ** zeros if "," in whole else 1.0
        if exp:
            scale = 10.0 ** int(exp.replace("−", "-"))
            value, unit = value * scale, unit * scale
        found.append((m.group(0).lstrip("−-") if not sign else m.group(0), value, unit / 2))
    return found


def _numbers_in(text: str) -> list[float]:
    return [v for _, v, _ in literals(text)]


def _walk(obj, out: list[float]) -> None:
    """Every number in the scenario's settings (a nested dict/list of YAML values)."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        out.append(float(obj))
    elif isinstance(obj, str):
        out.extend(_numbers_in(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _walk(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _walk(v, out)


@cache
def trace_values(name: str) -> tuple[np.ndarray, object]:
    """Every value of the trace, sorted, and the trace itself."""
    tr = build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml")))
    arrays: list[np.ndarray] = []
    # positions (PE[5], row 3) run over the sentence; step numbers are matched apart, after the word "step"
    loose: list[float] = [tr.loss, *tr.losses, *range(len(tr.tokens) + 1)]
    log = tr.training
    if log is not None:  # every update's figures, as the training screen and the JSON show them
        arrays += [log.batch_losses, log.lr, log.grad_norm, log.val_loss, log.val_accuracy,
                   *log.layer_grad_norm.values()]
    _walk(tr.config, loose)
    for group in (tr.params, tr.grads, tr.trained):
        arrays.extend(np.ravel(a) for a in group.values())
        loose.extend(n for a in group.values() for n in np.shape(a))
    loose.extend(_counts(tr.params))
    if tr.logits is not None:
        arrays.append(np.ravel(tr.logits))
    for s in tr.steps:
        for t in (*s.inputs.values(), *s.outputs.values()):
            arrays.append(np.ravel(np.asarray(t.value, dtype=np.float64)))
            loose.extend(t.shape)
            # numbered labels: the loss curve's "after k updates", a position's row
            loose.extend(float(x) for x in (*(t.rows or ()), *(t.cols or ())) if str(x).isdigit())
        loose.extend(_numbers_in(" ".join(s.bindings.values())))
        loose.extend(_numbers_in(worked_line(s) or ""))
    values = np.concatenate([*arrays, np.asarray(loose, dtype=np.float64)])
    return np.sort(values[np.isfinite(values)]), tr


def _counts(params: dict[str, np.ndarray]) -> list[float]:
    """Parameter counts: each array's, and the sums over every name prefix (layers, layers.0,
    layers.0.attn, and their weight matrices alone), as the parameter table adds them up."""
    sums: dict[tuple[str, bool], int] = {}
    for name, a in params.items():
        parts = name.split(".")
        for k in range(len(parts) + 1):
            for weights_only in (False, True):
                if not weights_only or parts[-1].startswith("W"):
                    key = (".".join(parts[:k]), weights_only)
                    sums[key] = sums.get(key, 0) + int(np.size(a))
    return [float(v) for v in sums.values()]


def lessons_of(tr) -> dict[str, str]:
    """Each distinct lesson text, by the first step that shows it."""
    seen: dict[str, str] = {}
    for s in tr.steps:
        if s.lesson and s.lesson not in seen.values():
            seen[s.id] = s.lesson
    return seen


def unmatched(name: str) -> list[str]:
    values, tr = trace_values(name)
    missing = []
    for step_id, text in lessons_of(tr).items():
        steps_named = {m for m in re.findall(r"\bsteps? (\d+)", text)}
        for printed, value, half in literals(text):
            if (name, printed) in ALLOWED or (printed in steps_named and 1 <= value <= len(tr.steps)):
                continue
            lo, hi = np.searchsorted(values, [value - half * (1 + 1e-9), value + half * (1 + 1e-9)], side="left")
            if hi == lo and not (hi < len(values) and values[hi] == value + half):
                missing.append(f"{step_id}: {printed}")
    return missing


def test_literals_read_the_printed_precision():
    assert literals("reads 3.646, then −0.959 and 20,000 steps") == [
        ("3.646", 3.646, 0.0005), ("−0.959", -0.959, 0.0005), ("20,000", 20000.0, 5000.0)]
    assert literals("W_1, d14/d15, L0, 2π, 2i and e^x") == []
    [(printed, value, half)] = literals("≈ 2.1e-9")
    assert printed == "2.1e-9" and value == pytest.approx(2.1e-9) and half == pytest.approx(0.05e-9)


def test_a_number_the_trace_lacks_is_reported(monkeypatch):
    """momentum_step's w' is 0.471: a lesson quoting 0.48 (plain SGD's w, never computed) is reported."""
    _, tr = trace_values("momentum_step")
    step = next(s for s in tr.steps if s.id == "upd.layers.0.W")
    monkeypatch.setattr(step, "lesson", "w becomes 0.471, where plain SGD would give 0.48.")
    assert unmatched("momentum_step") == ["upd.layers.0.W: 0.48"]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_number_a_lesson_quotes_is_in_its_trace(path):
    assert unmatched(path.stem) == []
