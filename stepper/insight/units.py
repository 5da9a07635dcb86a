"""The FFN units that fire most: per stack and layer, the hidden units (after the activation) with the
largest peak activation over every real (non-<pad>) token of the examples, read from `fwd.L{i}.ffn.act`
(a seq2seq's `fwd.enc.L{i}.ffn.act` and `fwd.dec.L{i}.ffn.act`, see stacks.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stepper.insight.passes import example_passes, real_rows
from stepper.insight.stacks import stacks
from stepper.insight.types import UnitSummary
from stepper.roundoff import ranked, steady_array
from stepper.scenario.types import Example, Scenario


def top_units(sc: Scenario, params: dict[str, np.ndarray], examples: Sequence[Example] | None = None,
              k: int = 3) -> list[UnitSummary]:
    """Per stack (a seq2seq's encoder, then its decoder) and layer, its `k` units by peak activation,
    largest first. Ties, read without round-off: the lower unit first; a unit's peak is at its first
    (example, position) in order. The peak and the mean are over every real token of every example
    (default examples as for heads)."""
    passes = example_passes(sc, params, examples)
    if not passes or not sc.model.ffn:  # `ffn: false`: no units
        return []
    out: list[UnitSummary] = []
    for stack in stacks(sc.model):
        for layer in range(stack.layers):
            rows, where = [], []  # every real token's activations, and (example, position, token) of each
            for e, steps in enumerate(passes):
                g = steps[f"{stack.at(layer)}.ffn.act"].outputs["G"]
                real = real_rows(g.rows)
                rows.append(np.asarray(g.value, dtype=np.float64)[real])
                where += [(e, int(p), g.rows[p]) for p in np.flatnonzero(real)]
            acts = np.concatenate(rows)  # [tokens, d_ff]
            steady_acts = steady_array(acts)  # what a choice is made from: the same on every machine
            peaks = steady_acts.max(axis=0)
            for unit in ranked(peaks)[:k]:
                e, pos, tok = where[ranked(steady_acts[:, unit])[0]]
                out.append(UnitSummary(layer=layer, unit=unit, peak=float(acts[:, unit].max()), example=e,
                                       position=pos, token=tok, mean=float(acts[:, unit].mean()),
                                       stack=stack.name))
    return out
