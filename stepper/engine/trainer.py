"""Training on a data set: every update of the optimizer, with the figures that prove it.

Update t takes its batch from the plan (stepper/engine/batches.py), asks the batched model for the
loss and dLoss/dθ (in training mode: dropout masks, BatchNorm's batch statistics), measures the total
gradient norm (and each layer's: trace_keys.layer_group), clips, and lets the optimizer move the weights with the schedule's learning rate.
Validation runs in eval mode after each epoch. A loss or gradient that is not finite ends training at
that update without touching the weights. Without `data:` the data set is the scenario's own example(s),
one batch of all of them, so every training run goes through here.

The parameters live in one flat float64 vector and the scenario's arrays are views of it: an update is
a few whole-vector operations, and recording a row of param_history is one copy.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.engine import clip, optim, schedule
from stepper.engine.batched_mlp import BatchedMLP
from stepper.engine.batches import BatchMaker, plan, traced_examples
from stepper.scenario.types import Scenario
from stepper.trace import TrainingLog
from stepper.trace_keys import layer_groups


def batched_model(sc: Scenario):
    """The model that computes a batch's loss and gradients: the mlp's here, the transformer's when asked for."""
    if sc.model.kind == "mlp":
        return BatchedMLP(sc)
    if sc.model.kind == "seq2seq":
        from stepper.engine.batched_seq2seq import BatchedSeq2Seq  # only an encoder–decoder needs it
        return BatchedSeq2Seq(sc)
    from stepper.engine.batched_transformer import BatchedTransformer  # only transformers need it
    return BatchedTransformer(sc)


class _Flat:
    """All parameters as one vector, in the scenario's order, with named views into it."""

    def __init__(self, params: dict[str, np.ndarray]):
        self.names = list(params)
        self.theta = np.concatenate([np.asarray(params[n], dtype=np.float64).ravel() for n in self.names])
        self.views, start = {}, 0
        for n in self.names:
            size = int(np.size(params[n]))
            self.views[n] = self.theta[start:start + size].reshape(np.shape(params[n]))
            start += size
        # each layer's stretches of the flat vector (trace_keys.layer_group), to measure its gradient alone
        spans = dict(zip(self.names, np.cumsum([0] + [int(np.size(params[n])) for n in self.names]), strict=False))
        self.groups = {group: [(int(spans[n]), int(spans[n]) + int(np.size(params[n]))) for n in names]
                       for group, names in layer_groups(self.names).items()}

    def layer_norms(self, grad: np.ndarray) -> dict[str, float]:
        """The L2 norm of each group's part of the flat gradient `grad`."""
        return {group: clip.total_norm([grad[a:b] for a, b in spans]) for group, spans in self.groups.items()}

    def gather(self, grads: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        return np.concatenate([grads[n].ravel() for n in self.names], out=out)


def fit(sc: Scenario) -> TrainingLog:
    """Run the scenario's optimizer over its data set; see TrainingLog for what comes back."""
    if sc.optim is None:
        raise ValueError(f"{sc.name}: nothing to train (no optim:)")
    with np.errstate(all="ignore"):  # overflow is a result here: it stops training and is reported
        return _fit(sc, sc.optim)


def _fit(sc: Scenario, cfg) -> TrainingLog:
    data = sc.data
    examples = data.examples if data is not None else traced_examples(sc)
    n = len(examples)
    size, shuffle, seed = (data.batch_size, data.shuffle, data.seed) if data is not None else (n, False, 0)
    total = cfg.steps
    order = plan(n, size, shuffle, seed, total)
    per_epoch = -(-n // size)
    maker, model = BatchMaker(sc, examples), batched_model(sc)
    val_batch = BatchMaker(sc, data.validation).batch(np.arange(len(data.validation))) \
        if data is not None and data.validation else None
    p_drop = sc.model.dropout if sc.model.kind != "mlp" else 0.0
    dropout = _dropout_module() if p_drop > 0 else None

    key_biases = [name for name in sc.params if name.endswith("attn.b_K")]  # attn, self_attn, cross_attn
    flat = _Flat(sc.params)
    theta, params = flat.theta, flat.views
    history = np.empty((total, theta.size))
    losses, norms = np.empty(total), np.empty(total)
    layer_norms = {group: np.empty(total) for group in flat.groups}
    rates = np.array(schedule.learning_rates(cfg.lr, cfg.schedule.kind, cfg.schedule.warmup, total))
    velocity = {"θ": _Flat({k: cfg.velocity.get(k, np.zeros_like(v)) for k, v in sc.params.items()}).theta}
    state = optim.init_state(cfg.kind, {"θ": theta}, velocity)["θ"]
    hyper = {"beta": cfg.momentum, "beta1": cfg.beta1, "beta2": cfg.beta2, "eps": cfg.eps,
             "weight_decay": cfg.weight_decay}
    grad, scratch = np.empty_like(theta), np.empty_like(theta)
    cached: dict[int, object] = {}
    running, first_grads, stopped = None, {}, None
    val_loss, val_acc, val_after = [], [], []
    for t in range(total):
        j = t % per_epoch
        batch = cached.get(j) if not shuffle else None
        if batch is None:
            batch = maker.batch(order[t])
            if not shuffle:
                cached[j] = batch
        masks = None
        if dropout is not None and batch.source is not None:  # a seq2seq: two stacks, two lengths
            masks = dropout.seq2seq_masks(p_drop, seed, t, sc.model, batch.size, batch.source.shape[1],
                                          batch.ids.shape[1])
        elif dropout is not None:
            b, width = batch.ids.shape
            masks = dropout.masks(p_drop, seed, t, sc.model.n_layers, b, sc.model.n_heads, width, sc.model.d_model)
        loss, grads, new_running = model.loss_and_grads(params, batch, masks=masks, running=running)
        for name in key_biases:
            # softmax ignores a constant added to a row of scores, and b_K adds q·b_K to every score of a
            # row alike: the loss does not depend on b_K, its gradient is exactly 0. What the arithmetic
            # leaves is round-off, which Adam would scale by lr/ε into steps of pure noise.
            grads[name][...] = 0.0
        if t == 0:
            first_grads = {name: np.array(g, dtype=np.float64) for name, g in grads.items()}
        flat.gather(grads, grad)
        norm = clip.total_norm(grad)
        losses[t], norms[t] = loss, norm
        for group, value in flat.layer_norms(grad).items():
            layer_norms[group][t] = value
        if not math.isfinite(loss) or not (math.isfinite(norm) or np.isfinite(grad).all()):
            history[t] = theta
            stopped = t
            break
        if cfg.clip_grad_norm is not None:
            grad *= clip.coefficient(norm, cfg.clip_grad_norm)
        optim.step(cfg.kind, theta, grad, state, t + 1, lr=float(rates[t]), scratch=scratch, **hyper)
        history[t] = theta
        running = new_running
        if val_batch is not None and ((t + 1) % per_epoch == 0 or t == total - 1):
            v_loss, right = model.evaluate(params, val_batch, running)
            val_loss.append(v_loss)
            val_after.append(t)
            if right is not None:
                val_acc.append(right / val_batch.size)
    ran = total if stopped is None else stopped + 1
    return TrainingLog(
        batch_losses=losses[:ran], lr=rates[:ran], grad_norm=norms[:ran],
        val_loss=np.array(val_loss, dtype=np.float64), val_accuracy=np.array(val_acc, dtype=np.float64),
        val_after=np.array(val_after, dtype=np.int64), param_names=flat.names, param_history=history[:ran],
        trained={name: v.copy() for name, v in params.items()}, running=dict(running or {}),
        first_grads=first_grads, stopped_at=stopped, batches=order[:ran], dropout_seed=seed,
        layer_grad_norm={group: v[:ran] for group, v in layer_norms.items()})


def _dropout_module():
    from stepper.engine import dropout  # only a scenario with dropout needs its masks
    return dropout
