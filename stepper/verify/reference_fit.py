"""The independent float64 torch training run: `fit_reference(sc) -> ReferenceFit`.

From the Scenario alone, following the training semantics of docs/scenario-format.md (`data:`,
`optim:`): the same batch plan (epoch orders, consecutive slices), torch's own model functions
(`reference_fit_model`), torch.optim's SGD / Adam / AdamW, `clip_grad_norm_`, a `LambdaLR` with the
`transformers` schedule multipliers, and validation after each epoch. The engine is not consulted;
only the dropout masks are taken from `stepper.engine.dropout.masks`, as inputs, like the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from stepper.scenario.types import Scenario
from stepper.trace_keys import layer_groups
from stepper.verify.reference_fit_model import (
    Running,
    TorchBatch,
    TorchModel,
    keep_tensors,
    start_running,
    token_batch,
)
from stepper.verify.reference_fit_seq2seq import (
    TorchSeq2Seq,
    keep_seq2seq,
    seq2seq_batch,
    start_running_seq2seq,
)

OnUpdate = Callable[[int, np.ndarray], None]  # (update t, every parameter after it, flat in sc.params order)
# (update t, B, T) -> that update's LayerMasks per layer; a seq2seq's T is (T_source, T_target) and its
# masks a dropout.Seq2SeqMasks
MasksFor = Callable[[int, int, int | tuple[int, int]], list | None]


@dataclass
class ReferenceFit:
    """What torch's training run gives, per update t (0-based) and per validation."""

    param_names: list[str]
    batch_losses: np.ndarray  # [U] the loss of update t's batch, with the weights before it
    lr: np.ndarray  # [U] the learning rate update t used
    grad_norm: np.ndarray  # [U] total L2 norm of dLoss/dθ before weight decay and clipping
    val_loss: np.ndarray  # [V]
    val_accuracy: np.ndarray  # [V] classify only, else empty
    val_after: np.ndarray  # [V] int: the update after which each validation ran
    trained: dict[str, np.ndarray]  # every parameter after the last update
    running: dict[str, tuple[np.ndarray, np.ndarray]]  # BatchNorm "layers.0.ln1" -> (mean, var); {} without
    stopped_at: int | None  # the update whose loss or gradient was not finite (its parameters unchanged)
    batches: list[np.ndarray] = field(default_factory=list)  # example indices of each update's batch
    first_grads: dict[str, np.ndarray] = field(default_factory=dict)  # update 0's dLoss/dθ, before clipping
    # the optimizer's memory after update 0, per parameter: "v" (momentum), "m" and "s" (Adam's moments)
    first_state: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # per group of parameters (trace_keys.layer_group): [U] the L2 norm of its dLoss/dθ before clipping
    layer_grad_norm: dict[str, np.ndarray] = field(default_factory=dict)


def multiplier(kind: str, warmup: int, total: int, t: int) -> float:
    """The factor on lr at update t: transformers' get_{constant,linear,cosine}_schedule_with_warmup."""
    if t < warmup:
        return float(t) / float(max(1, warmup))
    if kind == "constant":
        return 1.0
    if kind == "linear":
        return max(0.0, float(total - t) / float(max(1, total - warmup)))
    progress = float(t - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))  # num_cycles 0.5


def batch_plan(n: int, size: int, shuffle: bool, seed: int, updates: int) -> list[np.ndarray]:
    """Example indices of each update: batch t mod ⌈n/size⌉ of epoch t // ⌈n/size⌉."""
    per_epoch = -(-n // size)
    orders: dict[int, np.ndarray] = {}
    plan = []
    for t in range(updates):
        epoch, j = divmod(t, per_epoch)
        if epoch not in orders:
            orders[epoch] = np.random.default_rng(seed + epoch).permutation(n) if shuffle else np.arange(n)
        plan.append(orders[epoch][j * size:(j + 1) * size])
    return plan


class _Examples:
    """A set of examples (training or validation) and the TorchBatch of any subset of them."""

    def __init__(self, sc: Scenario, examples) -> None:
        self.sc = sc
        task, index = sc.task, {tok: i for i, tok in enumerate(sc.vocab)}
        self.seqs = [[index[tok] for tok in e.tokens] for e in examples]
        self.sources = [[index[tok] for tok in e.source] for e in examples]  # seq2seq
        self.features = [list(e.features) for e in examples]
        self.labels = [task.classes.index(e.label) for e in examples] if task.kind == "classify" else []
        self.targets = [list(e.target) for e in examples]

    @classmethod
    def traced(cls, sc: Scenario) -> _Examples:
        """Without `data:`: the traced example alone (an mlp: each row of its features)."""
        self = cls(sc, [])
        task = sc.task
        if sc.model.kind == "mlp":
            self.features = np.atleast_2d(np.array(sc.features, dtype=np.float64)).tolist()
            if task.kind == "regress":
                self.targets = np.atleast_2d(np.array(task.target, dtype=np.float64)).tolist()
        else:
            self.seqs = [sc.token_ids]
            index = {tok: i for i, tok in enumerate(sc.vocab)}
            self.sources = [[index[tok] for tok in sc.source_tokens]]
        if task.kind == "classify":
            self.labels = task.label_indices if task.labels else [task.label_index]
        return self

    def __len__(self) -> int:
        return len(self.features) if self.sc.model.kind == "mlp" else len(self.seqs)

    def batch(self, rows) -> TorchBatch:
        labels = [self.labels[i] for i in rows] if self.labels else None
        if self.sc.model.kind == "seq2seq":
            return seq2seq_batch(self.sc, [self.sources[i] for i in rows], [self.seqs[i] for i in rows])
        if self.sc.model.kind != "mlp":
            return token_batch(self.sc, [self.seqs[i] for i in rows], labels)
        x = torch.tensor([self.features[i] for i in rows], dtype=torch.float64)
        if labels is not None:
            return TorchBatch(features=x, labels=torch.tensor(labels, dtype=torch.long))
        return TorchBatch(features=x, target=torch.tensor([self.targets[i] for i in rows], dtype=torch.float64))


def optimizer(cfg, tensors: list[torch.Tensor]) -> torch.optim.Optimizer:
    betas = (cfg.beta1, cfg.beta2)
    if cfg.kind == "adamw":
        return torch.optim.AdamW(tensors, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.kind == "adam":
        return torch.optim.Adam(tensors, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    momentum = cfg.momentum if cfg.kind == "momentum" else 0.0
    return torch.optim.SGD(tensors, lr=cfg.lr, momentum=momentum, dampening=0.0, weight_decay=cfg.weight_decay)


def default_masks(sc: Scenario) -> MasksFor | None:
    """The engine's seeded dropout masks (numpy, `rng([data seed, t])`), when the model has dropout."""
    m = sc.model
    if m.kind == "mlp" or m.dropout == 0:
        return None
    from stepper.engine.dropout import masks

    seed = sc.data.seed if sc.data is not None else 0
    if m.kind == "seq2seq":
        from stepper.engine.dropout import seq2seq_masks

        return lambda t, b, lengths: seq2seq_masks(m.dropout, seed, t, m, b, *lengths)
    return lambda t, b, length: masks(m.dropout, seed, t, m.n_layers, b, m.n_heads, length, m.d_model)


def fit_reference(sc: Scenario, masks_for: MasksFor | None = None, on_update: OnUpdate | None = None) -> ReferenceFit:
    """Trains `sc` in torch float64 for `sc.optim.steps` updates.

    `masks_for(t, B, T)` gives update t's dropout masks (default: the engine's seeded ones);
    `on_update(t, flat)` sees every parameter after update t, so a caller compares them as they come
    instead of holding U copies of the model.
    """
    cfg = sc.optim
    if cfg is None:
        raise ValueError("nothing to train: the scenario has no `optim:`")
    data = sc.data
    train = _Examples(sc, data.examples) if data is not None else _Examples.traced(sc)
    held = _Examples(sc, data.validation) if data is not None and data.validation else None
    size = data.batch_size if data is not None else len(train)
    updates = cfg.steps
    plan = batch_plan(len(train), size, data.shuffle if data else False, data.seed if data else 0, updates)
    per_epoch = -(-len(train) // size)
    masks_for = masks_for if masks_for is not None else default_masks(sc)

    names = list(sc.params)
    key_biases = [n for n in names if n.endswith("attn.b_K")]  # attn, self_attn, cross_attn
    params = {n: torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for n, v in sc.params.items()}
    tensors = list(params.values())
    opt = optimizer(cfg, tensors)
    if cfg.kind == "momentum":
        # torch starts its buffer at the first gradient; a preset one makes it v ← βv + g from the first update
        for n, p in params.items():
            v0 = cfg.velocity.get(n)
            opt.state[p]["momentum_buffer"] = (torch.tensor(np.array(v0, dtype=np.float64)) if v0 is not None
                                               else torch.zeros_like(p))
    sched = cfg.schedule
    lr_sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: multiplier(sched.kind, sched.warmup, updates, t))
    seq2seq = sc.model.kind == "seq2seq"
    model, running = (TorchSeq2Seq(sc), start_running_seq2seq(sc)) if seq2seq else (TorchModel(sc), start_running(sc))
    max_norm = cfg.clip_grad_norm if cfg.clip_grad_norm is not None else math.inf
    fit = ReferenceFit(names, *([] for _ in range(6)), trained={}, running={}, stopped_at=None, batches=plan)
    groups = {group: [params[n] for n in members] for group, members in layer_groups(names).items()}
    fit.layer_grad_norm = {group: [] for group in groups}

    for t, rows in enumerate(plan):
        batch = train.batch(rows)
        keep = None
        if masks_for is not None and seq2seq:
            lengths = (batch.source.shape[1], batch.ids.shape[1])
            keep = keep_seq2seq(masks_for(t, batch.size, lengths), sc.model.dropout)
        elif masks_for is not None and batch.ids is not None:
            keep = keep_tensors(masks_for(t, batch.size, batch.ids.shape[1]), sc.model.dropout)
        fit.lr.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        with torch.enable_grad():
            loss, _ = model.loss(params, batch, training=True, keep=keep, running=running)
            loss.backward()
        for p in tensors:  # a parameter the loss does not reach still decays and counts its step
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for name in key_biases:  # the loss does not depend on b_K (softmax is shift-invariant per row):
            params[name].grad.zero_()  # its computed gradient is round-off, which Adam would magnify
        if t == 0:
            fit.first_grads = {n: p.grad.detach().numpy().copy() for n, p in params.items()}
        finite = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(p.grad).all()) for p in tensors)
        for group, members in groups.items():  # before clip_grad_norm_ scales the gradients in place
            norms = torch.stack([torch.linalg.vector_norm(p.grad) for p in members])
            fit.layer_grad_norm[group].append(torch.linalg.vector_norm(norms).item())
        # with no limit, clip_grad_norm_ scales by exactly 1.0: it only measures
        norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
        fit.batch_losses.append(loss.item())
        fit.grad_norm.append(norm.item())
        if not finite:  # training stops here, its parameters unchanged
            fit.stopped_at = t
            if on_update is not None:
                on_update(t, _flat(tensors))
            break
        before = {n: p.detach().clone() for n, p in params.items()} if t == 0 else {}
        opt.step()
        if t == 0:
            fit.first_state = _state(opt, params, cfg, before)
        lr_sched.step()
        if on_update is not None:
            on_update(t, _flat(tensors))
        if held is not None and ((t + 1) % per_epoch == 0 or t == updates - 1):
            _validate(fit, model, params, held, running, t)
    return _finish(fit, params, running)


def _state(opt: torch.optim.Optimizer, params: dict[str, torch.Tensor], cfg,
           before: dict[str, torch.Tensor]) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for name, p in params.items():
        state, mine = opt.state[p], {}
        for ours, theirs in (("v", "momentum_buffer"), ("m", "exp_avg"), ("s", "exp_avg_sq")):
            if state.get(theirs) is not None:
                mine[ours] = state[theirs].detach().numpy().copy()
        if cfg.kind == "momentum" and cfg.momentum == 0:
            # torch's SGD keeps no buffer when β = 0; the velocity it stands for, v = 0·v + g, is the
            # gradient it stepped with: the clipped gradient plus the L2 decay of the weight before
            mine["v"] = (p.grad + cfg.weight_decay * before[name]).detach().numpy().copy()
        out[name] = mine
    return out


def _flat(tensors: list[torch.Tensor]) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in tensors])


def _validate(fit: ReferenceFit, model: TorchModel, params, held: _Examples, running: Running, t: int) -> None:
    """The whole validation set as one batch, in eval mode (no dropout, BatchNorm's running statistics)."""
    batch = held.batch(range(len(held)))
    with torch.no_grad():
        loss, out = model.loss(params, batch, training=False, running=running)
    fit.val_loss.append(loss.item())
    fit.val_after.append(t)
    if batch.labels is not None:
        # numpy's argmax: a tie goes to the lowest index
        right = np.argmax(out.numpy(), axis=-1) == batch.labels.numpy()
        fit.val_accuracy.append(float(right.mean()))


def _finish(fit: ReferenceFit, params, running: Running) -> ReferenceFit:
    fit.batch_losses, fit.lr, fit.grad_norm, fit.val_loss, fit.val_accuracy = (
        np.array(v, dtype=np.float64) for v in (fit.batch_losses, fit.lr, fit.grad_norm, fit.val_loss,
                                                fit.val_accuracy))
    fit.val_after = np.array(fit.val_after, dtype=np.int64)
    fit.layer_grad_norm = {group: np.array(v, dtype=np.float64) for group, v in fit.layer_grad_norm.items()}
    fit.trained = {n: p.detach().numpy().copy() for n, p in params.items()}
    fit.running = {n: (m.numpy().copy(), v.numpy().copy()) for n, (m, v) in running.items()}
    return fit
