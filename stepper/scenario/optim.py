"""`optim:` — training after the backward pass: which optimizer, how big a step, how many."""

from __future__ import annotations

from stepper.scenario.types import ModelConfig, OptimConfig
from stepper.scenario.weights import explicit
from stepper.scenario.yamlread import Located

OPT = ("optim",)


def optim_config(doc: Located, raw: dict, specs: dict, model: ModelConfig) -> OptimConfig:
    """`raw` has passed its section's checks (keys, types, ranges, keys for this kind).

    The velocity is checked like `weights.values`: names of this model's parameters, exact shapes.
    """
    velocity = {name: explicit(doc, (*OPT, "velocity", name), name, given, specs, model)
                for name, given in raw["velocity"].items()}
    return OptimConfig(kind=raw["kind"], lr=raw["lr"], momentum=raw["momentum"], beta1=raw["beta1"],
                       beta2=raw["beta2"], eps=raw["eps"], steps=raw["steps"], velocity=velocity)
