"""The pipeline as a learner reads it: Forward / Backward, then Input, each layer, each head, Output;
then Training (the first update, the loss curve) and Generation (prefill, each token, the text).

`pass_sections` is the grouping the app's list and the export's headings share; each names the
sections in its own words.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepper.trace import Step, Trace

HEADINGS = {"forward": "FORWARD", "backward": "BACKWARD", "update": "TRAINING", "generate": "GENERATION"}
INPUT_SIDE, OUTPUT_SIDE = "input", "output"


@dataclass(frozen=True)
class Row:
    kind: str  # "phase" | "group" | "head" | "step"
    text: str
    depth: int
    step: int | None = None  # index into trace.steps for kind "step"


def pass_sections(trace: Trace) -> list[int | str | None]:
    """Each step's section in its forward or backward pass: its layer, or the side of the layers it
    is on (INPUT_SIDE: the embeddings, OUTPUT_SIDE: the loss); None in the other phases. Which side
    comes first depends on the direction of travel: forward starts at the input, backward at the loss."""
    out: list[int | str | None] = []
    phase, seen_layer = None, False
    for step in trace.steps:
        if step.phase != phase:
            phase, seen_layer = step.phase, False
        seen_layer = seen_layer or step.layer is not None
        if phase not in ("forward", "backward"):
            out.append(None)
        elif step.layer is not None:
            out.append(step.layer)
        else:
            out.append(INPUT_SIDE if (phase == "forward") != seen_layer else OUTPUT_SIDE)
    return out


def _group(step: Step, section: int | str | None) -> str:
    if step.phase == "update":
        return "Loss curve" if step.part == "curve" else "First update"
    if step.phase == "generate":
        if step.part in ("prefill", "text"):
            return step.part.title()
        return f"Token {step.token}"
    return f"Layer {section}" if isinstance(section, int) else str(section).title()


def outline(trace: Trace, title=lambda step: step.title) -> list[Row]:
    """`title` lets quiz mode hold back titles that give an answer away."""
    rows: list[Row] = []
    phase: str | None = None
    group: str | None = None
    head: int | None = None
    for i, (step, section) in enumerate(zip(trace.steps, pass_sections(trace), strict=True)):
        if step.phase != phase:
            phase, group, head = step.phase, None, None
            rows.append(Row("phase", HEADINGS.get(step.phase, step.phase.upper()), 0))
        name = _group(step, section)
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
