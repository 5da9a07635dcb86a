"""The `kind: mlp` forward pass in torch: `L{i}.z = x @ W + b`, `L{i}.h` = activation but on the last layer."""

from __future__ import annotations

import torch

from stepper.scenario.types import Scenario
from stepper.verify.graph import Graph
from stepper.verify.reference_transformer import ACTIVATIONS


def build_mlp(g: Graph, scenario: Scenario) -> str:
    """Adds `x` and every layer; returns the key of the last layer's `z`."""
    m = scenario.model
    g.constant("x", torch.tensor(scenario.features, dtype=torch.float64))
    n_layers = len(m.sizes) - 1
    stream = "x"
    for i in range(n_layers):
        w, b, z = f"layers.{i}.W", f"layers.{i}.b", f"L{i}.z"
        if b in g.nodes:
            g.op(z, lambda v, wt, bias: v @ wt + bias, stream, w, b)
        else:
            g.op(z, torch.matmul, stream, w)
        if i == n_layers - 1:
            return z
        if m.activation == "none":
            stream = g.alias(f"L{i}.h", z)
        else:
            stream = g.op(f"L{i}.h", ACTIVATIONS[m.activation], z)
    raise ValueError("an mlp needs at least one layer (sizes with two or more widths)")
