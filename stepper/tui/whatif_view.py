"""What-if edits as the app sees them: a request from the edit dialog, applied to a scenario,
recomputed (in a worker), and compared cell by cell with the original. No Textual here.

`stepper.whatif` does the editing and the output masks; this adds the inputs' masks, so a
step shows the edit arriving (its inputs) as well as what it did (its outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.present.numbers import lone_number
from stepper.scenario import Scenario
from stepper.trace import Trace

# {step id: {"inputs": {name: mask}, "outputs": {name: mask}}}, True where the edit moved a cell
Changes = dict[str, dict[str, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class EditRequest:
    kind: str  # "param" | "token" | "reset"
    name: str = ""  # the parameter
    index: tuple[int, ...] = ()
    value: float = 0.0
    position: int = 0  # the token
    token: str = ""


@dataclass
class Edited:
    scenario: Scenario
    trace: Trace
    changes: Changes
    label: str  # every edit so far, for the title bar and the export

    @property
    def changed_steps(self) -> set[int]:
        return {i for i, s in enumerate(self.trace.steps)
                if any(m.any() for side in self.changes.get(s.id, {}).values() for m in side.values())}


def apply(scenario: Scenario, request: EditRequest, labels: dict[str, tuple]) -> tuple[Scenario, str]:
    """(the edited scenario, how the edit reads); raises the editor's KeyError/ValueError/IndexError."""
    from stepper.whatif import edit_param, edit_token

    if request.kind == "token":
        before = scenario.tokens[request.position]
        return (edit_token(scenario, request.position, request.token),
                f"token {request.position}: {before} → {request.token}")
    old = float(scenario.params[request.name][request.index])
    rows, cols = labels.get(request.name, (None, None))
    names = [lab[i] if lab and i < len(lab) else str(i)
             for lab, i in zip((rows, cols) if len(request.index) == 2 else (cols,), request.index, strict=False)]
    short = request.name.rsplit(".", 1)[-1]
    return (edit_param(scenario, request.name, request.index, request.value),
            f"{short}[{', '.join(names)}]: {lone_number(old)} → {lone_number(request.value)}")


def recompute(original: Trace, scenario: Scenario, label: str) -> Edited:
    """The heavy part, for a worker thread: the whole trace again, and what moved."""
    from stepper.engine import build_trace

    trace = build_trace(scenario)
    return Edited(scenario, trace, step_changes(original, trace), label)


def step_changes(orig: Trace, edited: Trace) -> Changes:
    from stepper.whatif import changed_cells, ripple

    outputs = ripple(orig, edited)
    edited_steps = {s.id: s for s in edited.steps}
    out: Changes = {}
    for step in orig.steps:
        after = edited_steps.get(step.id)  # the same step, recomputed after the edit
        if after is None:
            continue
        inputs = {name: changed_cells(t.value, after.inputs[name].value) for name, t in step.inputs.items()
                  if name in after.inputs and after.inputs[name].shape == t.shape}
        out[step.id] = {"inputs": inputs, "outputs": outputs.get(step.id, {})}
    return out


def param_labels(trace: Trace) -> dict[str, tuple[list[str] | None, list[str] | None]]:
    """(row labels, column labels) of every parameter, as the steps that use it label it."""
    out: dict[str, tuple] = {}
    for step in trace.steps:
        for t in step.inputs.values():
            if t.is_param and t.key and t.key not in out:
                out[t.key] = (t.rows, t.cols)
    return out
