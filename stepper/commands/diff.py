"""`stepper diff A B`: pair the two traces' steps and say how far apart each is, as text or markdown."""

from __future__ import annotations

import sys

from stepper.commands import EXIT_INVALID
from stepper.commands.output import deliver
from stepper.diff import TraceDiff, diff_traces
from stepper.engine import build_trace
from stepper.scenario import load_scenario


def _g(x: float) -> str:
    return f"{x:.3g}"


def diff_text(d: TraceDiff, path_a: str, path_b: str, *, show_all: bool = False) -> str:
    lines = [f"A = {path_a} ({d.a_name}), B = {path_b} ({d.b_name})",
             f"loss: A {d.loss_a:.6g}   B {d.loss_b:.6g}   Δ {d.loss_b - d.loss_a:+.6g}",
             *(f"note: {n}" for n in d.notes),
             f"{len(d.paired)} steps paired by id; max |B − A| per step:"]
    for sd in d.paired:
        if not show_all and sd.max_abs == 0.0:
            continue
        parts = ", ".join(f"{o.name} {o.size(_g)}" + (f" ({o.note})" if o.note else "") for o in sd.outputs)
        lines.append(f"  {sd.step_id:<32} {sd.size(_g):>10}   {parts}")
    same = sum(1 for sd in d.paired if sd.max_abs == 0.0)
    if same and not show_all:
        lines.append(f"  … and {same} identical step{'s' * (same != 1)} (--all lists them)")
    for label, ids in (("only in A", d.only_a), ("only in B", d.only_b)):
        if ids:
            lines.append(f"{label} ({len(ids)}): {', '.join(ids)}")
    return "\n".join(lines) + "\n"


def trained_pair(path: str):
    """(the scenario, the same example with its trained weights): `stepper diff FILE --trained`."""
    from stepper.insight.before_after import trained_scenario

    scenario = load_scenario(path)
    trace = build_trace(scenario)
    if trace.training is None or not trace.trained:
        raise NoTraining(f"{path}: --trained needs a scenario that trains (an `optim:` section)")
    return scenario, trained_scenario(scenario, trace)


class NoTraining(ValueError):
    pass


def run_diff(path_a: str, path_b: str | None, *, show_all: bool = False, fmt: str = "text", output: str | None = None,
             precision: int = 4, force: bool = False, out=None, trained: bool = False) -> int:
    """Text (the default) or markdown, to `out`/stdout or to the file `output`. `trained`: B is A's example
    after training (`path_b` is None)."""
    out = out or sys.stdout
    if trained:
        try:
            a, b = trained_pair(path_a)
        except NoTraining as exc:
            print(f"stepper: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        path_b = f"{path_a} after training"
        ta, tb = build_trace(a), build_trace(b)
    else:
        ta, tb = build_trace(load_scenario(path_a)), build_trace(load_scenario(path_b))
    d = diff_traces(ta, tb)
    if fmt == "md":
        from stepper.export.md_diff import render_diff_markdown

        report = render_diff_markdown(d, precision=precision, traces=(ta, tb), sources=(path_a, path_b))
    else:
        report = diff_text(d, path_a, path_b, show_all=show_all)
    return deliver(report, output, force, out)
