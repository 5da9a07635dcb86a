"""Shared by the training reference's tests: scenarios written from the training semantics, and a plain
PyTorch training loop (any nn model, torch.optim, clip_grad_norm_, a schedule) to hold the reference to."""

from __future__ import annotations

import math

import numpy as np
import torch

from stepper.scenario.types import (
    DataConfig,
    Example,
    ModelConfig,
    OptimConfig,
    Scenario,
    ScheduleConfig,
    TaskConfig,
)

TOL = 1e-9
VOCAB = ["<pad>", "a", "b", "c", "d", "e", "f", "g"]


def sentences(rng, n: int, low: int, high: int) -> list[list[str]]:
    return [list(rng.choice(VOCAB[1:], size=int(rng.integers(low, high + 1)))) for _ in range(n)]


def scenario(model: ModelConfig, task: TaskConfig, params: dict, optim: OptimConfig, data: DataConfig | None,
             tokens=(), features=()) -> Scenario:
    first = data.examples[0] if data is not None else None
    tokens = list(tokens or (first.tokens if first else ()))
    return Scenario(name="fit", model=model, task=task, vocab=list(VOCAB), tokens=tokens, params=params,
                    optim=optim, data=data, features=features)


def data(train, validation=(), batch_size=2, shuffle=False, seed=0, labels=None, val_labels=None) -> DataConfig:
    def examples(rows, labs):
        return tuple(Example(tokens=tuple(r), label=labs[i] if labs else None) for i, r in enumerate(rows))

    return DataConfig(examples=examples(train, labels), validation=examples(validation, val_labels),
                      batch_size=batch_size, shuffle=shuffle, seed=seed)


def optim(kind: str, lr: float, steps: int, *, wd=0.0, clip=None, schedule=("constant", 0), **kw) -> OptimConfig:
    return OptimConfig(kind=kind, lr=lr, steps=steps, weight_decay=wd, clip_grad_norm=clip,
                       schedule=ScheduleConfig(kind=schedule[0], warmup=schedule[1]), **kw)


def pad_rows(rows: list[list[int]], fill: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long)


def plain_loop(parameters: list, loss_of, plan: list, opt, sched, clip: float | None, validate, val_every: int,
               ours_flat) -> dict:
    """A textbook training loop: zero_grad, loss, backward, clip_grad_norm_, step, scheduler step.

    `loss_of(rows)` is the loss of those examples; `validate()` gives (loss, accuracy or None) in eval
    mode; `ours_flat()` reads every parameter back in the scenario's names and order, flat.
    """
    out = {"batch_losses": [], "lr": [], "grad_norm": [], "val_loss": [], "val_accuracy": [], "history": []}
    for t, rows in enumerate(plan):
        out["lr"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = loss_of(rows)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(parameters, clip if clip is not None else math.inf)
        out["batch_losses"].append(loss.item())
        out["grad_norm"].append(norm.item())
        opt.step()
        sched.step()
        out["history"].append(ours_flat())
        if validate is not None and ((t + 1) % val_every == 0 or t == len(plan) - 1):
            loss, acc = validate()
            out["val_loss"].append(loss)
            if acc is not None:
                out["val_accuracy"].append(acc)
    return out


def assert_same_run(fit, history: list, theirs: dict) -> None:
    """Every per-update figure, every validation figure and every parameter after every update, to TOL."""
    for key in ("batch_losses", "lr", "grad_norm", "val_loss", "val_accuracy"):
        ours = np.asarray(getattr(fit, key))
        assert ours.shape == np.shape(theirs[key]), key
        np.testing.assert_allclose(ours, theirs[key], rtol=0, atol=TOL, err_msg=key)
    assert len(history) == len(theirs["history"])
    for t, (a, b) in enumerate(zip(history, theirs["history"], strict=True)):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=f"parameters after update {t}")
