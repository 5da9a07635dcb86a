"""Shared by the command-line training tests: run `stepper` on a scenario file as a subprocess (this checkout
first on PYTHONPATH), and a plain PyTorch training loop to compare the JSON it writes with.

Nothing here imports stepper: what is compared is only what the command line writes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-9


def stepper(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "stepper", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def export_json(path: Path) -> dict:
    r = stepper("export", path, "--format", "json", cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def plan(n: int, batch: int, updates: int, shuffle: bool, seed: int) -> list[list[int]]:
    """The example indices of each update's batch, from the data semantics alone."""
    per_epoch = math.ceil(n / batch)
    out = []
    for t in range(updates):
        e, j = divmod(t, per_epoch)
        order = np.random.default_rng(seed + e).permutation(n) if shuffle else np.arange(n)
        out.append([int(i) for i in order[j * batch:(j + 1) * batch]])
    return out


def validation_points(n: int, batch: int, updates: int) -> list[int]:
    per_epoch = math.ceil(n / batch)
    return [t for t in range(updates) if (t + 1) % per_epoch == 0 or t == updates - 1]


def optimizer(kind: str, params, lr: float, wd: float, momentum: float = 0.9):
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, weight_decay=wd)


def scheduler(opt, kind: str, warmup: int, total: int):
    import transformers

    if kind == "constant":
        return transformers.get_constant_schedule_with_warmup(opt, warmup)
    return getattr(transformers, f"get_{kind}_schedule_with_warmup")(opt, warmup, total)


def train(parameters: list, loss_of, batches: list, opt, sched, clip, validate, val_at: list[int],
          watch=None) -> dict:
    """zero_grad, loss, backward, clip_grad_norm_, step, scheduler step; validate after the updates in `val_at`.

    `watch()` (optional) is called after each backward: the largest gradient entry of a parameter whose
    true gradient is 0, so that its round-off drift can be bounded.
    """
    out = {"batch_losses": [], "lr": [], "grad_norm": [], "val_loss": [], "val_accuracy": [], "watched": []}
    for t, rows in enumerate(batches):
        out["lr"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = loss_of(rows)
        loss.backward()
        if watch is not None:
            out["watched"].append(watch())
        norm = torch.nn.utils.clip_grad_norm_(parameters, clip if clip is not None else math.inf)
        out["batch_losses"].append(loss.item())
        out["grad_norm"].append(norm.item())
        opt.step()
        sched.step()
        if t in val_at:
            loss, acc = validate()
            out["val_loss"].append(loss)
            if acc is not None:
                out["val_accuracy"].append(acc)
    return out


def roundoff_drift(kind: str, lrs: list, watched: list, eps: float = 1e-8, momentum: float = 0.9) -> float:
    """A bound on how far a parameter whose exact gradient is 0 moves when round-off g_t is all it gets.

    Adam/AdamW: each step is lr·m̂/(√v̂ + ε) ≤ lr·max|g|/ε; SGD lr·|g|; momentum lr·max|g|/(1 − β).
    Weight decay acts the same on both sides, so it adds nothing.
    """
    scale = {"adam": 1 / eps, "adamw": 1 / eps, "momentum": 1 / (1 - momentum)}.get(kind, 1.0)
    g = np.maximum.accumulate(np.asarray(watched, dtype=float))
    return float(np.sum(np.asarray(lrs) * g * scale))


def assert_figures(training: dict, theirs: dict) -> None:
    """Every per-update and validation figure of the JSON's `training` against the loop's, to TOL."""
    for key in ("batch_losses", "lr", "grad_norm", "val_loss", "val_accuracy"):
        ours = np.asarray(training[key], dtype=float)
        assert ours.shape == np.shape(theirs[key]), (key, ours.shape, np.shape(theirs[key]))
        np.testing.assert_allclose(ours, theirs[key], rtol=0, atol=TOL, err_msg=key)


def assert_trained(trained: dict, theirs: dict, drift: dict | None = None) -> None:
    """Every trained parameter; `drift` gives a wider tolerance for the named ones (see roundoff_drift)."""
    assert set(trained) == set(theirs), set(trained) ^ set(theirs)
    for name, value in theirs.items():
        tol = TOL + (drift or {}).get(name, 0.0)
        np.testing.assert_allclose(np.asarray(trained[name], dtype=float), value.detach().numpy(),
                                   rtol=0, atol=tol, err_msg=name)


def tensor(value) -> torch.Tensor:
    return torch.tensor(np.asarray(value, dtype=float), dtype=torch.float64)


def padded(rows: list[list[int]], fill: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long)
