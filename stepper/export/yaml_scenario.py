"""`stepper export --format yaml`: the model a scenario ends with, written as a new scenario.

Every weight is explicit (the trained ones when the scenario trains, else its own), so the new
file needs no seed, no optimizer and no data: `stepper check` of it computes the traced example's
pass with the trained weights. Floats are written by their shortest repr, which reads back as the
same float64, so the round trip is exact.
"""

from __future__ import annotations

import numpy as np
import yaml

from stepper.scenario.types import SUBLAYERS, Scenario
from stepper.trace import Trace

# the model keys a transformer file may hold; an mlp takes only these three
MLP_MODEL_KEYS = ("kind", "activation", "bias", "sizes")
NOT_WRITTEN = ("dropout",)  # training only: the new file does not train


class NotFinite(ValueError):
    """The weights hold an inf or NaN: there is no model to write."""


def model_section(sc: Scenario) -> dict:
    config = sc.model.as_dict()
    if sc.model.kind == "mlp":
        return {key: config[key] for key in MLP_MODEL_KEYS}
    out = {key: value for key, value in config.items() if key not in NOT_WRITTEN and key != "sizes"}
    if sc.model.kind != "seq2seq":
        del out["n_dec_layers"]
    else:  # a seq2seq predicts a token at every target position: nothing is pooled
        del out["pooling"]
    if out.get("norm_type") == "layer":  # the default: files written before BatchNorm read the same
        del out["norm_type"]
    if out.get("attention") == "dot":  # the default, whose file may not name a temperature
        del out["attention"], out["attention_temperature"]
    if out.get("positional") != "concat":  # d_pos belongs to concatenated positions alone
        out.pop("d_pos", None)
    # the defaults (and a seq2seq, which has neither key) written as before the switches
    if out["ffn"]:
        del out["ffn"]
    if set(out["residual"]) == set(SUBLAYERS) or sc.model.kind == "seq2seq":
        del out["residual"]
    elif not out["residual"]:
        out["residual"] = False
    return out


def task_section(sc: Scenario) -> dict:
    task = sc.task
    out: dict = {"kind": task.kind}
    if task.kind == "classify":
        out["classes"] = list(task.classes)
        if task.labels:
            out["labels"] = list(task.labels)
        else:
            out["label"] = task.label
    elif task.kind == "regress":
        out["target"] = [list(row) if isinstance(row, tuple) else row for row in task.target]
    return out


def input_section(sc: Scenario) -> dict:
    if sc.model.kind == "mlp":
        return {"features": [list(row) if isinstance(row, tuple) else row for row in sc.features]}
    if sc.model.kind == "seq2seq":
        return {"vocab": list(sc.vocab), "source": list(sc.source_tokens), "target": list(sc.tokens)}
    return {"vocab": list(sc.vocab), "tokens": list(sc.tokens)}


def trained_scenario(sc: Scenario, trace: Trace) -> dict:
    """The new scenario as data: `trace.trained` when the scenario trained, else its own weights."""
    weights = trace.trained or trace.params
    bad = [name for name, value in weights.items() if not np.all(np.isfinite(value))]
    if bad:
        raise NotFinite(f"{bad[0]} holds an inf or NaN after training: there is no finite model to write "
                        "(lower `optim.lr` or set `optim.clip_grad_norm`)")
    trained = bool(trace.trained)
    updates = sc.optim.steps if sc.optim is not None else 0
    words = (f"the weights of {sc.name} after {updates} update{'s' if updates != 1 else ''}, every one explicit"
             if trained else f"the weights of {sc.name}, every one explicit")
    doc: dict = {"name": f"{sc.name}-trained" if trained else sc.name,
                 "title": f"{sc.title or sc.name} (trained)" if trained else (sc.title or sc.name),
                 "description": f"Written by `stepper export --format yaml`: {words}.",
                 "model": model_section(sc), "input": input_section(sc), "task": task_section(sc),
                 "weights": {"values": {name: np.asarray(value, dtype=np.float64).tolist()
                                        for name, value in weights.items()}}}
    if sc.generate is not None:
        doc["generate"] = sc.generate.as_dict()
    return doc


class _FlowLists(yaml.SafeDumper):
    """Lists of numbers on one line each ([0.1, 0.2]): a weight matrix reads as rows."""


def _represent_list(dumper: yaml.SafeDumper, data: list):
    flow = all(not isinstance(x, dict) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowLists.add_representer(list, _represent_list)


def render_yaml(sc: Scenario, trace: Trace) -> str:
    return yaml.dump(trained_scenario(sc, trace), Dumper=_FlowLists, sort_keys=False, allow_unicode=True,
                     width=110)
