"""What training did, computed once: the one function the app's heads view and the markdown export's
"What training did" both call, so the two show the same numbers from the same passes.

`trained_insight(trace)` rebuilds the scenario from the trace itself (`from_trace.scenario_of`), runs
the traced example again with the trained weights (unless the caller has that trace already), and
summarises the heads before and after training, the FFN units that fire most after it and how far
each layer moves each token, all over the same examples (`passes.default_examples`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.insight.before_after import trained_scenario
from stepper.insight.from_trace import scenario_of
from stepper.insight.heads import head_summaries
from stepper.insight.layers import layer_work
from stepper.insight.passes import default_examples
from stepper.insight.types import HeadSummary, LayerWork, UnitSummary
from stepper.insight.units import top_units
from stepper.scenario.types import Example, Scenario
from stepper.trace import Trace

UNITS_PER_LAYER = 3  # the FFN units shown per layer: the ones with the largest peak activation


@dataclass(frozen=True)
class TrainedInsight:
    scenario: Scenario  # rebuilt from the trace: its config and its weights before training
    after: Trace  # the traced example with the trained weights
    examples: list[Example]  # what the heads and units are measured over
    heads_before: list[HeadSummary]  # per layer and head (layer-major); empty for an mlp
    heads_after: list[HeadSummary]
    units: list[UnitSummary]  # after training, UNITS_PER_LAYER per layer
    layers_before: list[LayerWork]  # the traced example, per layer
    layers_after: list[LayerWork]


def has_trained_model(trace: Trace) -> bool:
    """Training ran to the end with finite weights: there is a trained model to look at."""
    log = trace.training
    return bool(trace.trained) and all(np.all(np.isfinite(v)) for v in trace.trained.values()) and (
        log is None or log.stopped_at is None)


def trained_insight(trace: Trace, after: Trace | None = None) -> TrainedInsight:
    """Every summary of what training did to `trace`'s model; `after`: the traced example with the trained
    weights, when the caller built it already (the app's `t` does)."""
    if not has_trained_model(trace):
        raise ValueError(f"{trace.scenario}: no trained model with finite weights to summarise")
    from stepper.engine.run import build_trace

    sc = scenario_of(trace)
    if after is None:
        after = build_trace(trained_scenario(sc, trace))
    if sc.model.kind == "mlp":
        return TrainedInsight(sc, after, [], [], [], [], [], [])
    examples = default_examples(sc)
    return TrainedInsight(
        scenario=sc, after=after, examples=examples,
        heads_before=head_summaries(sc, trace.params, examples),
        heads_after=head_summaries(sc, trace.trained, examples),
        units=top_units(sc, trace.trained, examples, UNITS_PER_LAYER),
        layers_before=layer_work(trace), layers_after=layer_work(after))
