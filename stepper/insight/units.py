"""The FFN units that fire most: per layer, the hidden units (after the activation) with the largest
peak activation over every real (non-<pad>) token of the examples, read from `fwd.L{i}.ffn.act`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stepper.insight.passes import example_passes, real_rows
from stepper.insight.types import UnitSummary
from stepper.roundoff import ranked, steady_array
from stepper.scenario.types import Example, Scenario


def top_units(sc: Scenario, params: dict[str, np.ndarray], examples: Sequence[Example] | None = None,
              k: int = 3) -> list[UnitSummary]:
    """Per layer (layer-major), its `k` units by peak activation, largest first. Ties, read without
    round-off: the lower unit first; a unit's peak is at its first (example, position) in order. The
    peak and the mean are over every real token of every example (default examples as for heads)."""
    passes = example_passes(sc, params, examples)
    out: list[UnitSummary] = []
    for layer in range(sc.model.n_layers if passes and sc.model.ffn else 0):  # `ffn: false`: no units
        rows, where = [], []  # every real token's activations, and (example, position, token) of each
        for e, steps in enumerate(passes):
            g = steps[f"fwd.L{layer}.ffn.act"].outputs["G"]
            real = real_rows(g.rows)
            rows.append(np.asarray(g.value, dtype=np.float64)[real])
            where += [(e, int(p), g.rows[p]) for p in np.flatnonzero(real)]
        acts = np.concatenate(rows)  # [tokens, d_ff]
        steady_acts = steady_array(acts)  # what a choice is made from: the same on every machine
        peaks = steady_acts.max(axis=0)
        for unit in ranked(peaks)[:k]:
            e, pos, tok = where[ranked(steady_acts[:, unit])[0]]
            out.append(UnitSummary(layer=layer, unit=unit, peak=float(acts[:, unit].max()), example=e, position=pos,
                                   token=tok, mean=float(acts[:, unit].mean())))
    return out
