"""The pipeline as a learner reads it: Forward / Backward, then Input, each layer, each head, Output;
then Training (the first update, the loss curve) and Generation (prefill, each token, the text)."""

from __future__ import annotations

from dataclasses import dataclass

from stepper.trace import Step, Trace

HEADINGS = {"forward": "FORWARD", "backward": "BACKWARD", "update": "TRAINING", "generate": "GENERATION"}


@dataclass(frozen=True)
class Row:
    kind: str  # "phase" | "group" | "head" | "step"
    text: str
    depth: int
    step: int | None = None  # index into trace.steps for kind "step"


def _group(step: Step, phase: str, seen_layer: bool) -> str:
    if step.phase == "update":
        return "Loss curve" if step.id == "upd.curve" else "First update"
    if step.phase == "generate":
        part = step.id.split(".")[1] if "." in step.id else ""
        return f"Token {part}" if part.isdigit() else part.title()  # Prefill, Token n, Text
    if step.layer is not None:
        return f"Layer {step.layer}"
    # outside the layers a step is on the input side or the output side; which comes first
    # depends on the direction of travel
    return "Input" if (phase == "forward") != seen_layer else "Output"


def outline(trace: Trace, title=lambda step: step.title) -> list[Row]:
    """`title` lets quiz mode hold back titles that give an answer away."""
    rows: list[Row] = []
    phase: str | None = None
    group: str | None = None
    head: int | None = None
    seen_layer = False
    for i, step in enumerate(trace.steps):
        if step.phase != phase:
            phase, group, head, seen_layer = step.phase, None, None, False
            rows.append(Row("phase", HEADINGS.get(step.phase, step.phase.upper()), 0))
        seen_layer = seen_layer or step.layer is not None
        name = _group(step, phase, seen_layer)
        if name != group:
            group, head = name, None
            rows.append(Row("group", name, 1))
        if step.head is not None and step.head != head:
            rows.append(Row("head", f"head {step.head}", 2))
        head = step.head
        rows.append(Row("step", _within(title(step), group), 3 if step.head is not None else 2, i))
    return rows


def _within(title: str, group: str) -> str:
    """"Token 2: temperature" under the heading "Token 2" reads "Temperature": the list has no room to repeat."""
    if not title.startswith(group + ": "):
        return title
    rest = title[len(group) + 2:]
    return rest[:1].upper() + rest[1:]
