"""The mlp on a batch of examples, for training: loss and gradients only, nothing recorded.

The same stage modules as the traced mlp pass (linear, activation, loss), on [B, n] rows: the
trainer calls it once per update, so it keeps to the arithmetic. The interface is the batched
transformer's (loss_and_grads / evaluate); an mlp has no dropout and no running statistics.
"""

from __future__ import annotations

import numpy as np

from stepper.engine import activation, linear, loss
from stepper.engine.batches import Batch
from stepper.scenario.types import Scenario


class BatchedMLP:
    def __init__(self, sc: Scenario):
        self.n_layers = len(sc.model.sizes) - 1
        self.activation = sc.model.activation
        self.classify = sc.task.kind == "classify"
        self.order = list(sc.params)  # gradients come back in the scenario's parameter order
        self.dropout = 0.0

    def _forward(self, params: dict[str, np.ndarray], batch: Batch):
        """(output [B, n_out], the caches of every stage, last layer first)."""
        h, caches = batch.features, []  # [B, n_0]
        for i in range(self.n_layers):
            h, lin = linear.forward(h, params[f"layers.{i}.W"], params.get(f"layers.{i}.b"))  # [B, n_{i+1}]
            act = None
            if i < self.n_layers - 1:
                h, act = activation.forward(h, self.activation)  # [B, n_{i+1}]
            caches.append((lin, act))
        return h, caches[::-1]

    def _loss(self, out: np.ndarray, batch: Batch):
        """(batch loss, what its gradient needs): mean cross-entropy over examples, or the mean squared error
        (every example has n_out outputs, so the mean over all entries is the mean of the examples' means)."""
        if self.classify:
            value, _, cache = loss.cross_entropy(out, batch.labels, np.ones(len(batch.labels), dtype=bool))
            return value, cache
        return loss.mse(out, batch.target)

    def loss_and_grads(self, params: dict[str, np.ndarray], batch: Batch, *, masks=None, running=None):
        """(batch loss, dLoss/dθ by name in the scenario's order, None: an mlp keeps no running statistics)."""
        out, caches = self._forward(params, batch)
        value, cache = self._loss(out, batch)
        dh = loss.cross_entropy_backward(cache) if self.classify else loss.mse_backward(cache)  # [B, n_out]
        grads: dict[str, np.ndarray] = {}
        for i, (lin, act) in zip(range(self.n_layers - 1, -1, -1), caches, strict=True):
            dz = dh if act is None else activation.backward(dh, act)  # [B, n_{i+1}]
            dh, grads[f"layers.{i}.W"], db = linear.backward(dz, lin)  # [B, n_i], [n_i, n_{i+1}], [n_{i+1}]
            if db is not None:
                grads[f"layers.{i}.b"] = db
        return value, {name: grads[name] for name in self.order}, None

    def evaluate(self, params: dict[str, np.ndarray], batch: Batch, running=None):
        """(batch loss, how many examples the largest logit classifies right — None for regression)."""
        out, _ = self._forward(params, batch)
        value, _ = self._loss(out, batch)
        if not self.classify:
            return value, None
        return value, int((out.argmax(axis=1) == batch.labels).sum())
