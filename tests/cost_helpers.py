"""The cost model held to a real run: one check that the scenario tests of every switch share."""

from __future__ import annotations

from collections import Counter

from stepper.present.cost import made_bytes, step_flops


def assert_costs_match_the_run(trace, b) -> None:
    """`b` (scenario.budget) against `trace`: the parameters counted, the bytes each forward stage makes
    (per step and per layer and stage), and the FLOPs of every forward and backward step adding up to the
    model's."""
    assert b.n_params == sum(p.size for p in trace.params.values())
    measured, predicted, per_step, model = Counter(), Counter(), Counter(), Counter()
    for step in trace.steps:
        if step.phase == "forward":
            made = sum(t.value.nbytes for t in step.outputs.values())
            measured[step.layer, step.stage] += made
            assert made_bytes(step) == made, step.id
        if step.phase in ("forward", "backward"):
            per_step[step.phase, step.layer, step.stage] += step_flops(trace, step)
    for op in b.ops:
        predicted[op.layer, op.stage] += 8 * op.made
        model["forward", op.layer, op.stage] += op.flops
        model["backward", op.layer, op.stage] += op.backward
    assert +measured == +predicted
    assert +per_step == +model
