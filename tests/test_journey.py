"""The dimension journey of a multi-head model: a head's output is named by head dims, and the step column
lists every head's step rather than jumping from the first head's to the concatenation."""

from __future__ import annotations

from pathlib import Path

from stepper.engine import build_trace
from stepper.export.md_sections import journey_section
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_per_head_rows_say_head_dims_and_list_each_heads_step():
    tr = build_trace(load_scenario(str(SCENARIOS / "multihead_8x64.yaml")))
    journey = journey_section(tr, tr.steps)
    z = next(line for line in journey.splitlines() if "`Z`" in line)
    assert "(tokens × head dims)" in z
    numbers = [n for n, s in enumerate(tr.steps, 1) if s.phase == "forward" and s.stage == tr.steps[n - 1].stage
               and s.title == "Weighted sum of values A·V"]
    assert z.startswith(f"| {numbers[0]}, {numbers[1]}, …, {numbers[-1]} |")
    concat = next(line for line in journey.splitlines() if "`Concat`" in line)
    assert "(tokens × model dims)" in concat
