"""Masking: positions a query may not see get -inf, which softmax turns into exactly 0."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="S_masked = S' + M,  M[i, j] = 0 where query i may see key j, −∞ where it may not",
    latex=r"\tilde S = S' + M,\quad M_{ij} = \begin{cases} 0 & \text{allowed}(i,j) \\ -\infty & \text{otherwise} \end{cases}",
    meaning="−∞ (not 0) is what makes a weight vanish: e^−∞ = 0, while a score of 0 would still get weight e^0 = 1.",
    roles=(("S'", "in S"),),
)
GRAD_FORMULA = Formula(
    plain="dS'[i, j] = dS_masked[i, j] where M[i, j] = 0, else 0",
    latex=r"\frac{\partial L}{\partial S'_{ij}} = \mathbb{1}[M_{ij} = 0]\,\frac{\partial L}{\partial \tilde S_{ij}}",
    meaning="A masked score had no influence on the loss, so it gets no gradient.",
    roles=(("dS'", "out dS"),),
)


def additive(ok: np.ndarray) -> np.ndarray:
    """M: 0 where allowed, −∞ where not."""
    return np.where(ok, 0.0, -np.inf)  # [T, T]


def allowed(pad_keys: np.ndarray, causal: bool, n_queries: int | None = None) -> np.ndarray:
    """[T_q, T_k] boolean: may query i look at key j? The queries are the keys' own positions (T_q = T_k),
    unless `n_queries` says they come from another sequence (cross-attention: only <pad> keys masked)."""
    t = pad_keys.shape[0]
    tq = t if n_queries is None else n_queries
    ok = np.broadcast_to(~pad_keys[None, :], (tq, t)).copy()  # [T_q, T_k]
    if causal:
        ok &= np.tril(np.ones((tq, t), dtype=bool))  # [T, T] j ≤ i
    return ok


def forward(s: np.ndarray, ok: np.ndarray):
    # S' + M for every finite score; `where` also gives −∞ (not NaN) to a masked score that overflowed
    out = np.where(ok, s, -np.inf)  # [H, T, T]
    return out, ok


def backward(dout: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, dout, 0.0)  # [H, T, T]
