"""The training half of the reference: torch's own training run, as keyed values and Checks.

torch trains the scenario on its own (`reference_fit`), from the scenario's weights, with torch.optim,
clip_grad_norm_ and LambdaLR; nothing of the engine's run enters it but the dropout masks, which are
inputs like the weights. The trace's first-update steps are compared with torch's parameters and
optimizer memory after its update 0 (`upd1:NAME`, `upd1:NAME:m`…), its curve with torch's batch losses,
and the whole run, update by update, by `training_check` (its Checks go into the Verdicts).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from stepper.scenario.types import Scenario
from stepper.verify.graph import Graph
from stepper.verify.training_check import compare_training

TRAINING_TOL = 1e-9  # many updates compound round-off: each figure within 1e-9 × max(1, |torch's value|)


def training_reference(sc: Scenario, given, build: Callable[[Graph, Scenario], None]
                       ) -> tuple[dict[str, np.ndarray], tuple, dict[str, np.ndarray], dict]:
    """(keyed values for the trace's training steps, the Checks of every update, torch's trained weights,
    torch's BatchNorm running statistics by norm).

    `given` is the engine's Trace; without it (or without its training log) there is nothing to check
    update by update, and torch's run only supplies the keyed values."""
    log = getattr(given, "training", None) if given is not None else None
    with _threads_for(sc):
        return _training_reference(sc, log, build)


def _training_reference(sc: Scenario, log, build):
    if log is not None:
        checks, ref, first = compare_training(log, sc, TRAINING_TOL)
    else:
        from stepper.verify.reference_fit import fit_reference
        from stepper.verify.training_check import unflatten

        first: dict[str, np.ndarray] = {}
        ref = fit_reference(sc, on_update=lambda t, flat: first.update(unflatten(flat, sc)) if t == 0 else None)
        checks = []
    extra: dict[str, np.ndarray] = {}
    for name, value in first.items():
        extra[f"upd1:{name}"] = value
        for s, v in ref.first_state.get(name, {}).items():
            extra[f"upd1:{name}:{s}"] = v
    if sc.data is None:
        final = [_loss_at(sc, ref.trained, build)] if ref.stopped_at is None else []
        extra["train.losses"] = np.concatenate([ref.batch_losses, final])
    else:
        extra["train.batch_losses"] = ref.batch_losses
        extra["train.val_loss"] = ref.val_loss
        extra["train.val_accuracy"] = ref.val_accuracy
    return extra, tuple(checks), ref.trained, ref.running


SMALL = 1_000_000  # parameters: below this, an update's tensors are too small to share among threads


class _threads_for:
    """One torch thread while training a small model: its tensors are a few kilobytes, and on a busy
    machine two threads spend far longer waiting for each other than computing (measured on the
    training benchmark: 60–165 s with two threads against 9 s with one, under load)."""

    def __init__(self, sc: Scenario) -> None:
        self.small = sum(int(np.size(v)) for v in sc.params.values()) < SMALL
        self.before = torch.get_num_threads()

    def __enter__(self):
        if self.small:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.small:
            torch.set_num_threads(self.before)


def _loss_at(sc: Scenario, params: dict[str, np.ndarray], build) -> float:
    """The traced example's loss with these weights: the curve's last point without a data set."""
    g = Graph()
    for name, value in params.items():
        g.nodes[name] = torch.tensor(np.array(value, dtype=np.float64))
        g.params.add(name)
    with torch.no_grad():
        build(g, sc)
    return float(g.nodes["loss"])
