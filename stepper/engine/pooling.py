"""Pooling: one vector for the whole sequence, for classification."""

import numpy as np

from stepper.trace import Formula

FORMULAS = {
    "mean": Formula(plain="pooled = mean of the rows of h (skipping <pad>)",
                    latex=r"\text{pooled} = \frac{1}{|\mathcal{T}|}\sum_{t\in\mathcal{T}} h_t",
                    meaning="The sentence vector is the average of its token vectors (padding excluded)."),
    "first": Formula(plain="pooled = h[0]", latex=r"\text{pooled} = h_0", meaning="The first token's vector stands for the whole sequence (as BERT's [CLS])."),
    "last": Formula(plain="pooled = h[t_last], t_last = the last row that is not <pad>",
                    latex=r"\text{pooled} = h_{t_{\text{last}}}",
                    meaning="The last real token's vector stands for the sequence; in a decoder it is the only one that saw every token."),
}
GRAD_FORMULA = Formula(
    plain="dh[t] = weight[t] · dpooled",
    latex=r"\frac{\partial L}{\partial h_t} = w_t \frac{\partial L}{\partial \text{pooled}}",
    meaning="Each token's row gets the pooled gradient times the share it contributed (1/n for the mean, 1 for first or last).",
)


def weights(kind: str, keep: np.ndarray) -> np.ndarray:
    """The pooling as a row-weight vector [T]; every kind is a weighted sum of rows."""
    t = keep.shape[0]
    w = np.zeros(t)  # [T]
    if kind == "first":
        w[0] = 1.0
    elif kind == "last":  # the last row that is not <pad>, as in a padded batch
        w[np.flatnonzero(keep)[-1] if keep.any() else t - 1] = 1.0
    else:
        w[keep] = 1.0 / keep.sum()
    return w


def forward(h: np.ndarray, w: np.ndarray):
    return w @ h, (w, h.shape)  # [D] = [T] @ [T, D]


def backward(dp: np.ndarray, cache) -> np.ndarray:
    w, _ = cache
    return np.outer(w, dp)  # [T, D]
