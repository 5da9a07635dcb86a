"""BatchNorm: each feature normalised over the rows of a batch (torch.nn.BatchNorm1d's training mode).

Where LayerNorm normalises each row over its features, BatchNorm normalises each feature over the rows:
the batch's non-<pad> rows give the mean and the biased variance, and every row (pads too; they never
reach the loss) is normalised with them. Running statistics, updated once per training batch with the
unbiased variance, stand in for the batch's at evaluation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stepper.trace import Formula

MOMENTUM = 0.1  # torch.nn.BatchNorm1d's default: r ← (1 − 0.1)·r + 0.1·statistic

FORMULA = Formula(
    plain="y = (x − μ) / √(σ² + ε) · γ + β,  μ, σ² = mean and (biased) variance of each feature over the non-<pad> rows",
    latex=r"y = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \odot \gamma + \beta,\quad \mu_d = \frac{1}{n}\sum_{r} x_{rd},\ \sigma^2_d = \frac{1}{n}\sum_r (x_{rd} - \mu_d)^2",
    meaning="Each feature is re-centred and rescaled using the whole batch's statistics for it, then stretched and shifted by learned γ, β.",
)
GRAD_FORMULA = Formula(
    plain="dx = (dx̂ − Σ dx̂ / n − x̂·Σ(dx̂·x̂) / n) / √(σ² + ε) on the counted rows,  dx̂ = dy·γ,  dγ = Σ dy·x̂,  dβ = Σ dy",
    latex=r"\frac{\partial L}{\partial x_r} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\Big(g_r - \tfrac{1}{n}\textstyle\sum g - \hat x_r\,\tfrac{1}{n}\sum g \odot \hat x\Big),\ g = \frac{\partial L}{\partial y}\odot\gamma",
    meaning="Every row's statistics came from every counted row, so each row's gradient has the batch's shift and rescale removed.",
)
EVAL_FORMULA = Formula(
    plain="y = (x − running_mean) / √(running_var + ε) · γ + β",
    latex=r"y = \frac{x - \hat\mu}{\sqrt{\hat\sigma^2 + \varepsilon}} \odot \gamma + \beta",
    meaning="At evaluation the statistics gathered during training replace the batch's own.",
)


class Stats(NamedTuple):
    """Running statistics of one BatchNorm: per-feature mean and (unbiased) variance."""

    mean: np.ndarray  # [D]
    var: np.ndarray  # [D]


def initial(d: int) -> Stats:
    """torch's starting point: mean 0, variance 1."""
    return Stats(np.zeros(d), np.ones(d))


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, rows: np.ndarray | None = None):
    """x [N, D]; `rows` [N] bool marks the rows the statistics count (None: all)."""
    counted = x if rows is None or rows.all() else x[rows]  # [n, D]
    n = counted.shape[0]
    mu = counted.mean(axis=0)  # [D]
    dev = counted - mu  # [n, D]
    var = (dev * dev).mean(axis=0)  # [D], biased
    rstd = 1.0 / np.sqrt(var + eps)  # [D]
    xhat = (x - mu) * rstd  # [N, D]
    y = xhat * gamma + beta  # [N, D]
    return y, (xhat, rstd, gamma, rows, n, mu, var)


def backward(dy: np.ndarray, cache):
    """Returns (dx, dgamma, dbeta). Rows the statistics did not count get only the direct part."""
    xhat, rstd, gamma, rows, n, _, _ = cache
    g = dy * gamma  # [N, D]
    # μ and σ² depend on the counted rows only, but every row's output read them
    shift = g.sum(axis=0) / n  # [D]
    stretch = (g * xhat).sum(axis=0) / n  # [D]
    if rows is None or rows.all():
        dx = rstd * (g - shift - xhat * stretch)  # [N, D]
    else:
        dx = g * rstd  # [N, D]
        dx[rows] -= rstd * (shift + xhat[rows] * stretch)
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


def running(stats: Stats, cache) -> Stats:
    """The running statistics after this batch: the unbiased variance n/(n−1)·σ², as torch."""
    _, _, _, _, n, mu, var = cache
    unbiased = var * (n / (n - 1)) if n > 1 else var
    return Stats((1 - MOMENTUM) * stats.mean + MOMENTUM * mu, (1 - MOMENTUM) * stats.var + MOMENTUM * unbiased)


def evaluate(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, stats: Stats) -> np.ndarray:
    return (x - stats.mean) / np.sqrt(stats.var + eps) * gamma + beta  # [N, D]
