"""What-if edits as the app sees them: a request from the edit dialog, applied to a scenario,
recomputed (in a worker), and compared cell by cell with the original. No Textual here.

`stepper.whatif` does the editing and the output masks; this adds the inputs' masks, so a
step shows the edit arriving (its inputs) as well as what it did (its outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stepper.present.numbers import lone_number
from stepper.scenario import Scenario
from stepper.trace import Trace


@dataclass(frozen=True)
class StepChanges:
    """What moved in one step between two traces of the same steps (an edit's, or training's):
    per input and output, a mask (True where the entry moved beyond round-off) and the largest
    |after − before| among the moved entries, so a table can say how far its numbers went."""

    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    largest: dict[tuple[str, str], float] = field(default_factory=dict)  # (side, name) → max |Δ|

    def side(self, side: str) -> dict[str, np.ndarray]:
        return self.inputs if side == "inputs" else self.outputs

    @property
    def any(self) -> bool:
        return any(m.any() for masks in (self.inputs, self.outputs) for m in masks.values())


# {step id: what moved in it}
Changes = dict[str, StepChanges]


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
        return {i for i, s in enumerate(self.trace.steps) if s.id in self.changes and self.changes[s.id].any}


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
    """Per step id found in both traces: which entries moved, and by how much at most."""
    from stepper.whatif import changed_cells

    edited_steps = {s.id: s for s in edited.steps}
    out: Changes = {}
    for step in orig.steps:
        after = edited_steps.get(step.id)  # the same step, recomputed after the edit
        if after is None:
            continue
        masks: dict[str, dict[str, np.ndarray]] = {"inputs": {}, "outputs": {}}
        largest: dict[tuple[str, str], float] = {}
        for side, tensors, twins in (("inputs", step.inputs, after.inputs), ("outputs", step.outputs, after.outputs)):
            for name, t in tensors.items():
                twin = twins.get(name)
                if twin is None or twin.shape != t.shape:
                    continue
                mask = masks[side][name] = changed_cells(t.value, twin.value)
                if mask.any():
                    largest[(side, name)] = largest_change(t.value, twin.value, mask)
        out[step.id] = StepChanges(masks["inputs"], masks["outputs"], largest)
    return out


def largest_change(a: np.ndarray, b: np.ndarray, moved: np.ndarray) -> float:
    """The largest |b − a| among the `moved` entries (inf where one became or stopped being finite)."""
    from stepper.diff import delta

    d = np.abs(delta(a, b))[moved]
    return float(np.nan_to_num(d, nan=np.inf).max()) if d.size else 0.0


def param_labels(trace: Trace) -> dict[str, tuple[list[str] | None, list[str] | None]]:
    """(row labels, column labels) of every parameter, as the steps that use it label it."""
    out: dict[str, tuple] = {}
    for step in trace.steps:
        for t in step.inputs.values():
            if t.is_param and t.key and t.key not in out:
                out[t.key] = (t.rows, t.cols)
    return out
