"""`stepper diff A B`: pair the two traces' steps and print how far apart each is."""

from __future__ import annotations

import sys

from stepper.diff import diff_traces
from stepper.engine import build_trace
from stepper.scenario import load_scenario


def run_diff(path_a: str, path_b: str, *, show_all: bool = False, out=None) -> int:
    out = out or sys.stdout
    a, b = load_scenario(path_a), load_scenario(path_b)
    d = diff_traces(build_trace(a), build_trace(b))
    print(f"A = {path_a} ({d.a_name}), B = {path_b} ({d.b_name})", file=out)
    print(f"loss: A {d.loss_a:.6g}   B {d.loss_b:.6g}   Δ {d.loss_b - d.loss_a:+.6g}", file=out)
    print(f"{len(d.paired)} steps paired by id; max |B − A| per step:", file=out)
    for sd in d.paired:
        if not show_all and sd.max_abs == 0.0:
            continue
        parts = ", ".join(f"{o.name} {o.max_abs:.3g}" + (f" ({o.note})" if o.note else "") for o in sd.outputs)
        print(f"  {sd.step_id:<32} {sd.max_abs:>10.3g}   {parts}", file=out)
    same = sum(1 for sd in d.paired if sd.max_abs == 0.0)
    if same and not show_all:
        print(f"  … and {same} identical step{'s' * (same != 1)} (--all lists them)", file=out)
    for label, ids in (("only in A", d.only_a), ("only in B", d.only_b)):
        if ids:
            print(f"{label} ({len(ids)}): {', '.join(ids)}", file=out)
    return 0
