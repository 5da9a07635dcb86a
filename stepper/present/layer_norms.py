"""Each layer's gradient norm over the updates (TrainingLog.layer_grad_norm), as the training screen and
the markdown export show it: the groups' short names, the updates a table samples, one update's figures.

Groups are trace_keys.layer_group's: `embed`, `layers.{i}` (`encoder.layers.{i}`, `decoder.layers.{i}`)
and `head`; a short name keeps eight layers' columns inside a terminal or a table.
"""

from __future__ import annotations

import math

from stepper.present.numbers import lone_number
from stepper.roundoff import steady
from stepper.trace import TrainingLog

# a table of per-layer norms keeps at most this many updates: each epoch's last, thinned out evenly
MAX_ROWS = 8


def group_label(group: str) -> str:
    """`layers.3` → `L3`, `encoder.layers.0` → `enc L0`, `decoder.layers.1` → `dec L1`; embed, head as is."""
    stack, _, rest = group.rpartition("layers.")
    if not rest.isdigit():
        return group
    return {"": "", "encoder.": "enc ", "decoder.": "dec "}.get(stack, stack) + f"L{rest}"


def figure(x: float) -> str:
    """A norm as the training screen prints it: 4 significant digits, inf/NaN as words."""
    return f"{steady(x):.4g}" if math.isfinite(x) else lone_number(x)


def layer_figures(log: TrainingLog, t: int) -> list[tuple[str, str]]:
    """(short group name, its gradient norm at update t) in parameter order."""
    return [(group_label(g), figure(float(v[t]))) for g, v in log.layer_grad_norm.items() if t < len(v)]


def sampled_updates(log: TrainingLog, per_epoch: int) -> list[int]:
    """The updates (0-based) a table shows: the last of each epoch (and the last that ran), at most
    MAX_ROWS of them, evenly spread from the first epoch's to the last."""
    ends = sorted({min(t, log.updates - 1) for t in range(per_epoch - 1, log.updates + per_epoch - 1, per_epoch)})
    if len(ends) <= MAX_ROWS:
        return ends
    picks = [round(k * (len(ends) - 1) / (MAX_ROWS - 1)) for k in range(MAX_ROWS)]
    return [ends[k] for k in dict.fromkeys(picks)]
