"""Where training first made a number that is not finite: which update, which example, which step.

The trainer stops at the update whose batch loss or gradient is not finite. To name the operation
that made it, each example of that batch is passed through the recorded (one-sequence) engine with
the weights that update started from, in batch order; the first step with an inf or NaN it should
not hold is the answer. A batch whose examples are all finite alone (BatchNorm's statistics are the
batch's) is named as a whole.
"""

from __future__ import annotations

import dataclasses

from stepper.engine.batches import traced_examples
from stepper.scenario.types import Example, Scenario
from stepper.trace import Divergence, TrainingLog


def example_scenario(sc: Scenario, ex: Example) -> Scenario:
    """The scenario with `ex` as its one traced example (a seq2seq's: its source and target)."""
    task = sc.task
    if sc.model.kind == "mlp":
        task = dataclasses.replace(task, label=ex.label, labels=(), target=tuple(ex.target))
        return dataclasses.replace(sc, features=tuple(ex.features), task=task)
    if task.kind == "classify":
        task = dataclasses.replace(task, label=ex.label)
    return dataclasses.replace(sc, tokens=list(ex.tokens), source_tokens=list(ex.source), task=task)


def locate(sc: Scenario, log: TrainingLog) -> Divergence:
    from stepper.engine.run import first_non_finite

    t = log.stopped_at
    assert t is not None
    params = sc.params if t == 0 else log.params_after(t - 1)
    examples = sc.data.examples if sc.data is not None else traced_examples(sc)
    lr = float(log.lr[t])
    for i in log.batches[t]:
        step = first_non_finite(example_scenario(sc, examples[int(i)]), params)
        if step is not None:
            if sc.data is None:  # the traced example itself: no example to name
                return Divergence(t, step.id, step.title, lr)
            return Divergence(t, step.id, step.title, lr, example=int(i), line=examples[int(i)].line or None)
    return Divergence(t, "", "the batch as a whole", lr)
