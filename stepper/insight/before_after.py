"""Before and after training: the traced example run again with the trained weights, and what moved.

`trained_scenario` gives the scenario whose `build_trace` is the "after training" trace of the same
example: same model, same tokens, the trained weights, nothing left to train. `changed_entries`
compares one step of the two traces output by output.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from stepper.roundoff import NOISE, scale_of
from stepper.scenario.types import Scenario
from stepper.trace import Step, Trace


def trained_scenario(sc: Scenario, trace: Trace) -> Scenario:
    """The traced example with `trace.trained` as its weights and no optimizer or data set, named as
    such: what the app's `t`, `stepper diff FILE --trained` and the export's "What training did" set
    beside the trace before training. Lessons stay (the app says they were written for the numbers
    before training); quiz questions go, they ask for the untrained numbers. Generation stays (it
    already used the trained weights in `trace`)."""
    if not trace.trained:
        raise ValueError(f"{sc.name}: the scenario does not train, so there is no 'after training'")
    return dataclasses.replace(sc, name=f"{sc.name} after training", params=dict(trace.trained), optim=None,
                               data=None, quiz=())


def changed_entries(before: Step, after: Step) -> dict[str, np.ndarray]:
    """Per output of the step (by name): after − before, exactly 0 where the two are equal (−∞ = −∞
    included) or differ only by round-off (by NOISE relative to the larger finite magnitude of the
    two, or to 1), so which entries count as changed is the same on every machine."""
    if before.id != after.id:
        raise ValueError(f"compare a step with itself: {before.id} vs {after.id}")
    out = {}
    for name, t in before.outputs.items():
        a = np.asarray(t.value, dtype=np.float64)
        b = np.asarray(after.outputs[name].value, dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"{before.id}: output {name} has shape {a.shape} before and {b.shape} after")
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.where(a == b, 0.0, b - a)
        scale = max(scale_of(a), scale_of(b), 1.0)
        diff[np.abs(diff) <= NOISE * scale] = 0.0
        out[name] = diff
    return out
