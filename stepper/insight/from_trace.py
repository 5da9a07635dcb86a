"""The scenario a trace was made from, rebuilt from what the trace records (its config and weights),
so that a view holding only the Trace (the markdown export) can run the insight passes itself.

Enough to run the model: model, task, vocabulary, tokens (an mlp's features from its first step's
input `x`; a seq2seq's source), weights and data set. The optimizer is left out (the rebuilt scenario is never trained),
as are lessons and quiz questions.
"""

from __future__ import annotations

from stepper.scenario.types import DataConfig, Example, ModelConfig, Scenario, TaskConfig
from stepper.trace import Trace


def scenario_of(trace: Trace) -> Scenario:
    config = trace.config
    model = dict(config["model"])
    model["sizes"] = tuple(model.get("sizes") or ())
    task = dict(config["task"])
    task_config = TaskConfig(kind=task["kind"], classes=tuple(task.get("classes") or ()), label=task.get("label"),
                             target=tuple(_tuple(t) for t in task.get("target") or ()),
                             labels=tuple(task.get("labels") or ()))
    return Scenario(name=trace.scenario, model=ModelConfig(**model), task=task_config,
                    vocab=list(config.get("vocab") or []), tokens=list(config.get("tokens") or []),
                    params=dict(trace.params), title=trace.title, description=trace.description,
                    features=_features(trace) if model.get("kind") == "mlp" else (),
                    data=_data(config.get("data")), source_tokens=list(config.get("source") or []))


def _tuple(value):
    return tuple(_tuple(v) for v in value) if isinstance(value, list | tuple) else value


def _features(trace: Trace) -> tuple:
    """An mlp's input as its first forward step read it: one vector, or one row per example."""
    first = next(s for s in trace.steps if s.phase == "forward")
    return _tuple(first.inputs["x"].value.tolist())


def _example(raw: dict) -> Example:
    return Example(tokens=tuple(raw.get("tokens") or ()), source=tuple(raw.get("source") or ()), label=raw.get("label"),
                   features=tuple(raw.get("features") or ()), target=tuple(raw.get("target") or ()))


def _data(raw: dict | None) -> DataConfig | None:
    if not raw:
        return None
    return DataConfig(examples=tuple(_example(e) for e in raw["examples"]),
                      validation=tuple(_example(e) for e in raw.get("validation") or ()),
                      batch_size=raw["batch_size"], shuffle=raw["shuffle"], seed=raw["seed"])
