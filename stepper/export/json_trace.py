"""The JSON trace (`stepper export --format json`): every number at full float64 precision."""

from __future__ import annotations

import json
import math

import numpy as np

from stepper.present.worked import bindings_with_worked
from stepper.trace import Step, Tensor, Trace
from stepper.visible import json_escaped

FORMAT = "stepper-trace/1"


def array(value: np.ndarray):
    """Nested lists of floats; ±inf and NaN as strings, since JSON has no such numbers."""
    value = np.asarray(value, dtype=np.float64)
    if np.isfinite(value).all():
        return value.tolist()

    def fix(x):
        if isinstance(x, list):
            return [fix(v) for v in x]
        return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))

    return fix(value.tolist())


def _index(index: tuple) -> list:
    return [[i.start, i.stop] if isinstance(i, slice) else i for i in index]


def _input(t: Tensor) -> dict:
    """Inputs are outputs of earlier steps or parameters: name them rather than repeat them."""
    out = {"shape": list(t.shape)}
    if t.key:
        out["key"] = t.key
        if t.index:
            out["index"] = _index(t.index)
    else:
        out["value"] = array(t.value)
    return out


def step_dict(step: Step, check=None) -> dict:
    d = {
        "id": step.id, "phase": step.phase, "title": step.title, "formula": step.formula.plain,
        "latex": step.formula.latex, "stage": step.stage, "layer": step.layer, "head": step.head,
        "meaning": step.meaning, "bindings": bindings_with_worked(step),
        "inputs": {name: _input(t) for name, t in step.inputs.items()},
        "outputs": {name: array(t.value) for name, t in step.outputs.items()},
        "shapes": {name: list(t.shape) for name, t in step.outputs.items()},
        "keys": {name: t.key for name, t in step.outputs.items() if t.key},
        "labels": {name: {"rows": t.rows, "cols": t.cols} for name, t in step.outputs.items()},
    }
    if check is not None:
        c = check
        d["check"] = {"reference": c.reference, "max_abs_err": c.max_abs_err, "tolerance": c.tolerance,
                      "ok": c.ok, "worst": c.worst, "scale": c.scale}
    return d


def trace_dict(trace: Trace, verdicts=None) -> dict:
    """The trace as JSON-ready data; `verdicts` (step id → Check) adds each step's `check`."""
    verdicts = verdicts or {}
    out = {
        "format": FORMAT,
        "scenario": trace.scenario,
        "title": trace.title,
        "description": trace.description,
        "config": trace.config,
        "loss": trace.loss,
        "logits": array(trace.logits),
        "params": {name: array(v) for name, v in trace.params.items()},
        "grads": {name: array(v) for name, v in trace.grads.items()},
        "steps": [step_dict(s, verdicts.get(s.id)) for s in trace.steps],
    }
    if trace.tokenizer:  # `tokenizer: bpe`: the merges it learned
        out["tokenizer"] = trace.tokenizer
    if trace.training is not None:
        out.update(training_dict(trace, verdicts))
    return out


def training_dict(trace: Trace, verdicts=None) -> dict:
    """`training`: per update its batch loss (weights before it), learning rate and gradient norm (before
    clipping), in total and per layer (`layer_grad_norm`, by trace_keys.layer_group); per validation its loss and, for classify, accuracy (weights after that epoch's last update).
    `trained_params`: every parameter after the last update. BatchNorm's running statistics, which are not
    parameters, by the norm's name (`layers.0.ln1`)."""
    log = trace.training
    training = {"batch_losses": array(log.batch_losses), "lr": array(log.lr), "grad_norm": array(log.grad_norm),
                "layer_grad_norm": {group: array(v) for group, v in log.layer_grad_norm.items()},
                "val_loss": array(log.val_loss), "val_accuracy": array(log.val_accuracy),
                "val_after": [int(t) for t in log.val_after], "updates": log.updates,
                "stopped_at": log.stopped_at,
                "batches": [[int(i) for i in rows] for rows in log.batches]}
    checks = getattr(verdicts, "training", ())
    if checks:
        training["check"] = {"reference": "torch.optim", "ok": all(c.ok for c in checks),
                             "max_abs_err": max(c.max_abs_err for c in checks),
                             "figures": [{"what": c.reference, "max_abs_err": c.max_abs_err, "tolerance": c.tolerance,
                                          "ok": c.ok, "worst": c.worst} for c in checks]}
    out = {"training": training, "trained_params": {name: array(v) for name, v in log.trained.items()}}
    if log.running:
        out["running_mean"] = {name: array(stats[0]) for name, stats in log.running.items()}
        out["running_var"] = {name: array(stats[1]) for name, stats in log.running.items()}
    return out


def render_json(trace: Trace, verdicts=None) -> str:
    # the tokens stay as the file wrote them, escaped: a consumer reads the same strings back
    return json_escaped(json.dumps(trace_dict(trace, verdicts), ensure_ascii=False, indent=1)) + "\n"
