"""Pooling: one vector for the whole sequence, for classification."""

import numpy as np

from stepper.trace import Formula

FORMULAS = {
    "mean": Formula(plain="p = mean of the rows (skipping <pad>)", latex=r"p = \frac{1}{|\mathcal{T}|}\sum_{t\in\mathcal{T}} h_t",
                    meaning="The sentence vector is the average of its token vectors (padding excluded)."),
    "first": Formula(plain="p = h[0]", latex=r"p = h_0", meaning="The first token's vector stands for the whole sequence (as BERT's [CLS])."),
    "last": Formula(plain="p = h[T−1]", latex=r"p = h_{T-1}", meaning="The last token's vector stands for the sequence; in a decoder it is the only one that saw every token."),
}
GRAD_FORMULA = Formula(
    plain="dh[t] = weight[t] · dp",
    latex=r"\frac{\partial L}{\partial h_t} = w_t \frac{\partial L}{\partial p}",
    meaning="Each pooled row gets the pooled gradient times the share it contributed (1/n for the mean, 1 for first or last).",
)


def weights(kind: str, keep: np.ndarray) -> np.ndarray:
    """The pooling as a row-weight vector [T]; every kind is a weighted sum of rows."""
    t = keep.shape[0]
    w = np.zeros(t)  # [T]
    if kind == "first":
        w[0] = 1.0
    elif kind == "last":
        w[t - 1] = 1.0
    else:
        w[keep] = 1.0 / keep.sum()
    return w


def forward(h: np.ndarray, w: np.ndarray):
    return w @ h, (w, h.shape)  # [D] = [T] @ [T, D]


def backward(dp: np.ndarray, cache) -> np.ndarray:
    w, _ = cache
    return np.outer(w, dp)  # [T, D]
