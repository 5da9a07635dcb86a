"""Losses: softmax cross-entropy for classification and next-token prediction, MSE for regression."""

import numpy as np

from stepper.engine import softmax
from stepper.trace import Formula

CE_FORMULA = Formula(
    plain="p = softmax(logits);  L = −mean_t log p[t, target_t];  PPL = exp(L)",
    latex=r"p = \mathrm{softmax}(z),\quad L = -\frac{1}{N}\sum_{t} \log p_{t,\,y_t},\quad \mathrm{PPL} = e^{L}",
    meaning="Cross-entropy is the surprise at the right answer: 0 when the model gives it probability 1, large when "
            "it gives it little. Perplexity e^L says the same as a count: the model is as unsure as if it picked "
            "uniformly among PPL choices (1: sure and right; the number of choices: no better than a guess).",
)
CE_GRAD_FORMULA = Formula(
    plain="dlogits = (p − onehot(target)) / N",
    latex=r"\frac{\partial L}{\partial z} = \frac{1}{N}\big(p - \mathrm{onehot}(y)\big)",
    meaning="Softmax and cross-entropy together have the simplest gradient there is: predicted minus true.",
    roles=(("onehot(target)", "in y"), ("dlogits", "out 0")),
)
MSE_FORMULA = Formula(
    plain="L = mean((ŷ − y)²)",
    latex=r"L = \frac{1}{n}\sum_i (\hat y_i - y_i)^2",
    meaning="Mean squared error: the average squared distance between prediction and target.",
)
MSE_GRAD_FORMULA = Formula(
    plain="dŷ = 2(ŷ − y) / n",
    latex=r"\frac{\partial L}{\partial \hat y} = \frac{2}{n}(\hat y - y)",
    meaning="The gradient points from the target to the prediction, scaled by 2/n.",
)


def cross_entropy(logits: np.ndarray, targets: np.ndarray, keep: np.ndarray):
    """logits [N, C] (or [C]), integer targets [N]; rows where keep is False do not count."""
    z = np.atleast_2d(logits)  # [N, C]
    p, _ = softmax.forward(z)  # [N, C]
    n = int(keep.sum())
    rows = np.arange(z.shape[0])[keep]
    loss = -log_softmax(z)[rows, targets[keep]].sum() / n
    return float(loss), p.reshape(logits.shape), (p, targets, keep, n, logits.shape)


def perplexity(loss: float) -> np.ndarray:
    """exp(loss) as a 0-d array: inf, without an overflow warning, for a loss past ~709."""
    with np.errstate(over="ignore"):
        return np.exp(np.array(loss, dtype=np.float64))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log p, row by row, without taking the log of p: where a logit is far below the row's max its
    p underflows to 0 and log 0 is −∞, but (z − m) − log Σ exp(z − m) is the finite number it should be."""
    shifted = z - z.max(axis=-1, keepdims=True)  # [N, C], each row's max at 0
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # [N, C]; the sum is at least 1


def cross_entropy_backward(cache) -> np.ndarray:
    p, targets, keep, n, shape = cache
    d = p.copy()  # [N, C]
    d[np.arange(p.shape[0]), targets] -= 1.0
    d[~keep] = 0.0
    return (d / n).reshape(shape)


def mse(pred: np.ndarray, target: np.ndarray):
    diff = pred - target  # [n]
    return float((diff * diff).mean()), diff


def mse_backward(diff: np.ndarray) -> np.ndarray:
    return 2.0 * diff / diff.size  # [n]
