"""The pipeline as a learner reads it: Forward / Backward, then Input, each layer, each head, Output."""

from __future__ import annotations

from dataclasses import dataclass

from stepper.trace import Trace


@dataclass(frozen=True)
class Row:
    kind: str  # "phase" | "group" | "head" | "step"
    text: str
    depth: int
    step: int | None = None  # index into trace.steps for kind "step"


def outline(trace: Trace) -> list[Row]:
    rows: list[Row] = []
    phase: str | None = None
    group: str | None = None
    head: int | None = None
    seen_layer = False
    for i, step in enumerate(trace.steps):
        if step.phase != phase:
            phase, group, head, seen_layer = step.phase, None, None, False
            rows.append(Row("phase", step.phase.upper(), 0))
        if step.layer is not None:
            seen_layer = True
            name = f"Layer {step.layer}"
        else:
            # outside the layers a step is on the input side or the output side; which
            # comes first depends on the direction of travel
            input_side = (phase == "forward") != seen_layer
            name = "Input" if input_side else "Output"
        if name != group:
            group, head = name, None
            rows.append(Row("group", name, 1))
        if step.head is not None and step.head != head:
            rows.append(Row("head", f"head {step.head}", 2))
        head = step.head
        rows.append(Row("step", step.title, 3 if step.head is not None else 2, i))
    return rows
