"""Two traces compared, as markdown: which steps moved, by how much, and the numbers side by side.

A pure function of a TraceDiff. The diff holds bare arrays; when the two Traces are passed as well,
their row and column labels are borrowed so a table reads `I`, `am` rather than 0, 1.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.diff import OutputDiff, StepDiff, TraceDiff
from stepper.export.md_tables import MAX_HEADS, code, table, text
from stepper.present.labels import shape_text
from stepper.present.numbers import table_number
from stepper.trace import Trace
from stepper.visible import visible

Labels = tuple[list[str] | None, list[str] | None]


def render_diff_markdown(diff: TraceDiff, *, precision: int = 4, traces: tuple[Trace, Trace] | None = None,
                         sources: tuple[str, str] | None = None) -> str:
    """The whole comparison. `traces` lends labels; `sources` names the files A and B came from."""
    if not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a whole number of significant digits ≥ 1, got {precision!r}")
    outputs = [{s.id: s.outputs for s in t.steps} for t in traces] if traces else [{}, {}]
    changed = [sd for sd in diff.paired if sd.max_abs != 0.0]
    parts = [f"# {text(diff.a_name)} → {text(diff.b_name)}: what changes", _intro(diff, sources, changed),
             _loss_table(diff, precision), _summary(diff, precision)]
    if changed:
        parts.append("## Steps that differ")
        parts.append("For each step, every output that changed is shown three times, one table under the "
                     "other: as A computes it, as B computes it, and the difference Δ = B − A.")
        number = {sd.step_id: i for i, sd in enumerate(diff.paired, 1)}
        parts += [_step(sd, number[sd.step_id], outputs, precision) for sd in changed]
    for side, ids in (("A", diff.only_a), ("B", diff.only_b)):
        if ids:
            parts.append(f"## Only in {side}\n\n{len(ids)} step{'s' * (len(ids) != 1)} of {side} "
                         f"{'have' if len(ids) != 1 else 'has'} no partner with the same id:\n\n"
                         + "\n".join(f"- {code(i)}" for i in ids))
    return visible("\n\n".join(parts) + "\n")  # the scenarios' strings, drawn, never obeyed


def _intro(diff: TraceDiff, sources: tuple[str, str] | None, changed: list[StepDiff]) -> str:
    a, b = (f" ({code(s)})" for s in sources) if sources else ("", "")
    same = len(diff.paired) - len(changed)
    return (f"A is the scenario {code(diff.a_name)}{a}; B is {code(diff.b_name)}{b}. Steps are paired by "
            f"id and their outputs by name, and Δ = B − A entry by entry. Of the {len(diff.paired)} paired "
            f"steps, {len(changed)} differ and {same} {'are' if same != 1 else 'is'} identical"
            + (f"; {len(diff.only_a)} exist only in A and {len(diff.only_b)} only in B."
               if diff.only_a or diff.only_b else ".")
            + "".join(f"\n\n> **Note.** {n[0].upper()}{n[1:]}." for n in diff.notes))


def _loss_table(diff: TraceDiff, precision: int) -> str:
    return "\n".join(["| | A | B | Δ = B − A |", "|:---|---:|---:|---:|",
                      f"| loss | {table_number(diff.loss_a, precision)} | {table_number(diff.loss_b, precision)} | "
                      f"{table_number(diff.loss_b - diff.loss_a, precision)} |"])


def _size(x: float, precision: int) -> str:
    return "∞" if math.isinf(x) else table_number(x, precision)


def _summary(diff: TraceDiff, precision: int) -> str:
    lines = ["## Every paired step", "", "The largest change anywhere in a step's outputs, in trace order.", "",
             "| # | step | id | max abs Δ | largest in |", "|---:|:---|:---|---:|:---|"]
    for i, sd in enumerate(diff.paired, 1):
        if sd.max_abs == 0.0:
            size, where = "0", "identical"
        else:
            # the largest change with a number to it; an output only one side has only if none has one
            top = max(sd.outputs, key=lambda o: (o.comparable, o.max_abs if o.comparable else 0.0))
            size = sd.size(lambda x: _size(x, precision))
            where = code(top.name) + (f" ({text(top.note)})" if top.note else "")
        lines.append(f"| {i} | {text(sd.title)} | {code(sd.step_id)} | {size} | {where} |")
    return "\n".join(lines)


def _step(sd: StepDiff, number: int, outputs: list[dict], precision: int) -> str:
    parts = [f"### {number} · {text(sd.title)}", code(sd.step_id)]
    same = [o.name for o in sd.outputs if o.max_abs == 0.0]
    for o in sd.outputs:
        if o.max_abs != 0.0:
            parts += _output(sd.step_id, o, outputs, precision)
    if same:
        parts.append("Unchanged: " + ", ".join(code(n) for n in same) + ".")
    return "\n\n".join(parts)


def _labels(outputs: dict, step_id: str, name: str) -> Labels:
    t = outputs.get(step_id, {}).get(name)
    return (t.rows, t.cols) if t is not None else (None, None)


def _merged(a: list[str] | None, b: list[str] | None) -> list[str] | None:
    """Δ's labels: A's where A and B agree, `a→b` where they name the same position differently."""
    if a is None or b is None or len(a) != len(b):
        return a
    return [x if x == y else f"{x}→{y}" for x, y in zip(a, b, strict=True)]


def _output(step_id: str, o: OutputDiff, outputs: list[dict], precision: int) -> list[str]:
    la, lb = _labels(outputs[0], step_id, o.name), _labels(outputs[1], step_id, o.name)
    head = f"**{code(o.name)}**: max abs Δ {o.size(lambda x: _size(x, precision))}" + (f" — {text(o.note)}" if o.note else "")
    parts = [head, *_tables("A", o.name, o.a, la, precision)]
    if o.b is not None:
        parts += _tables("B", o.name, o.b, lb, precision)
    if o.delta is not None:
        parts += _tables("Δ = B − A", o.name, o.delta, (_merged(la[0], lb[0]), _merged(la[1], lb[1])), precision)
    return parts


def _tables(side: str, name: str, value: np.ndarray, labels: Labels, precision: int) -> list[str]:
    v = np.asarray(value, dtype=np.float64)
    caption = f"*{side}* {code(name)} {shape_text(v.shape)}"
    if v.ndim == 0:
        return [f"{caption} = {table_number(v, precision)}"]
    if v.ndim > 3:
        return [caption + " — too many axes for a table; see the JSON export."]
    slices = [(code(name), v)] if v.ndim < 3 else [(code(f"{name}[{h}]"), v[h]) for h in range(min(len(v), MAX_HEADS))]
    out = [caption]
    for corner, part in slices:
        body, note = table(corner, part, labels[0], labels[1], precision)
        out.append(body + (f"\n\n*{note}*" if note else ""))
    if v.ndim == 3 and len(v) > MAX_HEADS:
        out.append(f"*Heads {MAX_HEADS}–{len(v) - 1} are left out.*")
    return out
