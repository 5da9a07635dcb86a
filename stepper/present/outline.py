"""The pipeline as a learner reads it: Forward / Backward, then Input, each layer, each head, Output (an
encoder–decoder: Encoder and Decoder, each with its layers and their blocks, then Output);
then Training (the first update, the loss curve) and Generation (prefill, each token, the text).

`pass_sections` is the grouping the app's list and the export's headings share; each names the
sections in its own words.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepper.present.stacks import SHARED_TABLE, block_word, is_seq2seq, stack_sections, stack_word, within
from stepper.trace import Step, Trace

HEADINGS = {"forward": "FORWARD", "backward": "BACKWARD", "update": "TRAINING", "generate": "GENERATION"}
INPUT_SIDE, OUTPUT_SIDE = "input", "output"


@dataclass(frozen=True)
class Row:
    kind: str  # "phase" | "stack" | "group" | "block" | "head" | "step"
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
    """`title` lets quiz mode hold back titles that give an answer away.

    A heading row comes wherever a step's place (phase, stack, group, block, head) differs from the
    step before it, from the first level that differs down."""
    rows: list[Row] = []
    before: tuple[tuple[str, str], ...] = ()
    sides, seq2seq = stack_sections(trace), is_seq2seq(trace)
    for i, (step, section) in enumerate(zip(trace.steps, pass_sections(trace), strict=True)):
        # an encoder–decoder's backward pass ends outside both stacks, where their shared table is summed
        shared = seq2seq and section == INPUT_SIDE
        place = _place(step, sides[i] or (SHARED_TABLE if shared else _group(step, section)))
        # the levels both share; one place may be deeper (a head's step after the layer's, or before)
        pairs = enumerate(zip(place, before, strict=False))
        same = next((k for k, (a, b) in pairs if a != b), min(len(place), len(before)))
        rows.extend(Row(kind, text, depth) for depth, (kind, text) in enumerate(place[same:], same))
        before = place
        heading = place[1][1] if step.stack else next(text for kind, text in place if kind == "group")
        rows.append(Row("step", within(title(step), heading), len(place), i))
    return rows


def _place(step: Step, group: str) -> tuple[tuple[str, str], ...]:
    """Where a step sits in the list, outermost first: its phase, its stack (in an encoder–decoder), its
    group, its block (a stack's layer: self-attention, cross-attention, FFN) and its head."""
    place = [("phase", HEADINGS.get(step.phase, step.phase.upper()))]
    if step.stack:
        place.append(("stack", stack_word(step)))
    place.append(("group", group))
    if block_word(step):
        place.append(("block", block_word(step)))
    if step.head is not None:
        place.append(("head", f"head {step.head}"))
    return tuple(place)
