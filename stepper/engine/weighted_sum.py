"""Attention output: each token's new vector is the attention-weighted average of the values."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="Z = A · V",
    latex=r"Z_h = A_h V_h",
    meaning="Row i mixes the value vectors of every token it may see, weighted by how much it attends to each.",
)
GRAD_FORMULA = Formula(
    plain="dA = dZ · Vᵀ,  dV = Aᵀ · dZ",
    latex=r"\frac{\partial L}{\partial A_h} = \frac{\partial L}{\partial Z_h} V_h^\top,\quad \frac{\partial L}{\partial V_h} = A_h^\top \frac{\partial L}{\partial Z_h}",
    meaning="A value gets gradient from every query that attended to it, in proportion to the attention weight.",
)


def forward(a: np.ndarray, v: np.ndarray):
    z = a @ v  # [H, T, d_k] = [H, T, T] @ [H, T, d_k]
    return z, (a, v)


def backward(dz: np.ndarray, cache):
    a, v = cache
    da = dz @ v.transpose(0, 2, 1)  # [H, T, T]
    dv = a.transpose(0, 2, 1) @ dz  # [H, T, d_k]
    return da, dv
