"""A training run in words: what it did (updates, batches, losses, validation) and how it was verified.

`stepper check` prints these lines; the export's training section opens with the same words.
"""

from __future__ import annotations

import numpy as np

from stepper.present.perplexity import is_cross_entropy, ppl
from stepper.present.verdicts import ok_mark
from stepper.roundoff import steady
from stepper.trace import Trace

LISTED = 8  # a validation series up to this long is listed in full; a longer one by its ends and its best


def _g(x: float) -> str:
    return f"{steady(float(x)):.4g}"


def _plural(n: int, one: str) -> str:
    return f"{n} {one}{'' if n == 1 else 's'}"


def _series(values: np.ndarray, as_percent: bool = False) -> str:
    def say(x: float) -> str:
        return f"{steady(float(x)) * 100:.0f}%" if as_percent else _g(x)

    if values.size <= LISTED:
        return ", ".join(say(v) for v in values)
    return f"{say(values[0])}, {say(values[1])}, …, {say(values[-1])}"


def training_summary(trace: Trace) -> str:
    """One line: how many updates on what, the first and last batch loss, validation per epoch."""
    log, config = trace.training, trace.config
    assert log is not None
    data = config.get("data")
    n = log.updates
    if data:
        on = (f"on {_plural(len(data['examples']), 'example')} in batches of {data['batch_size']}"
              + (", shuffled each epoch" if data["shuffle"] else ""))
    else:
        on = "on the traced example"
    # with data, the batch losses; else one batch, the same every time: the curve ends after the last update
    first, last = (log.batch_losses[0], log.batch_losses[-1]) if data else (trace.losses[0], trace.losses[-1])
    words = f"{_plural(n, 'update')} {on}; {'batch loss' if data else 'loss'} {_g(first)} → {_g(last)}"
    if is_cross_entropy(config):
        words += f" (perplexity {ppl(first)} → {ppl(last)})"
    if log.val_loss.size:
        words += f"; validation loss after each epoch: {_series(log.val_loss)}"
        if is_cross_entropy(config):
            words += f" (perplexity {_series(np.exp(np.minimum(log.val_loss, 709.0)))})"
        if log.val_accuracy.size:
            words += f"; accuracy: {_series(log.val_accuracy, as_percent=True)}"
    if log.stopped_at is not None:
        words += f"; stopped at update {log.stopped_at}, whose loss or gradient is not finite"
    return words


def training_verdict(trace: Trace, checks) -> str:
    """Whether every update agreed with torch's own training run, and where the first one did not."""
    log = trace.training
    if not checks:
        return "training not compared (no reference run)"
    ok = all(c.ok for c in checks)
    worst = max(c.max_abs_err for c in checks)
    what = "batch losses, learning rates, gradient norms (total and per layer), " + ("validation, " if log.val_loss.size else "") + \
        "every parameter after each update"
    line = (f"{ok_mark(ok)} {_plural(log.updates, 'update')} vs torch.optim ({what}): max abs err {worst:.1e}")
    if not ok:
        first = next(c for c in checks if not c.ok)
        line += f" — {first.reference}: {first.worst}"
    return line
