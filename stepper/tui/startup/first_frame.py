"""The first frame's text, made in the forked reader where numpy is, painted in the parent before it
loads numpy (preview.py): the pipeline's rows, the first step's header, meaning and check line, as
the (text, style) pieces the real widgets show (parts.py). Nothing here imports Textual."""

from __future__ import annotations

from stepper.present.outline import outline
from stepper.present.stacks import is_seq2seq
from stepper.trace import Trace
from stepper.tui.parts import check_parts, header_parts, meaning_parts, row_parts


def first_frame(trace: Trace) -> dict:
    """Everything the first frame shows, as plain strings: picklable without numpy."""
    rows = outline(trace)
    return {
        "scenario": trace.scenario, "title": trace.title,
        "rows": [(row_parts(trace, row, {}), None if row.step is None else f"s{row.step}") for row in rows],
        "highlight": next(n for n, row in enumerate(rows) if row.step == 0),
        "header": header_parts(trace, 0), "meaning": meaning_parts(trace.steps[0]),
        "check": check_parts(trace.steps[0], None),  # nothing is checked yet when it is painted
        "trains": trace.training is not None and bool(trace.trained),  # then t and T are keys, and the top
        # bar says "before training"
        "seq2seq": is_seq2seq(trace),  # then m (memory ↔ cross-attention) is a key
    }
