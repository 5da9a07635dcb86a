"""Row-wise softmax: turn each row of scores into weights that are positive and sum to 1."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="A[i, j] = exp(S[i, j] − max_j S[i]) / Σ_j exp(S[i, j] − max_j S[i])",
    latex=r"A_{ij} = \frac{e^{S_{ij} - m_i}}{\sum_{j'} e^{S_{ij'} - m_i}},\quad m_i = \max_j S_{ij}",
    meaning="Each query row becomes a probability distribution over the keys; subtracting the row max changes nothing but avoids overflow.",
    roles=(("S", "in 0"),),  # S here is what the mask left
)
GRAD_FORMULA = Formula(
    plain="dS[i] = A[i] ⊙ (dA[i] − Σ_j dA[i, j]·A[i, j])",
    latex=r"\frac{\partial L}{\partial S_{ij}} = A_{ij}\Big(\frac{\partial L}{\partial A_{ij}} - \sum_{j'} \frac{\partial L}{\partial A_{ij'}} A_{ij'}\Big)",
    meaning="For each row a = A[i], the softmax Jacobian is diag(a) − a aᵀ: raising one weight lowers the others.",
    roles=(("dS", "out 0"),),
)


def forward(s: np.ndarray):
    m = s.max(axis=-1, keepdims=True)  # [..., T, 1]
    e = np.exp(s - m)  # [..., T, T]; exp(-inf) = 0 for masked entries
    a = e / e.sum(axis=-1, keepdims=True)  # [..., T, T]
    return a, a


def backward(da: np.ndarray, a: np.ndarray) -> np.ndarray:
    inner = (da * a).sum(axis=-1, keepdims=True)  # [..., T, 1]
    return a * (da - inner)  # [..., T, T]
