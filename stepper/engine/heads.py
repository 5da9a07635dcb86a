"""Splitting [T, D] into heads [H, T, d_k] and concatenating them back."""

import numpy as np

from stepper.trace import Formula

CONCAT_FORMULA = Formula(
    plain="Concat = [Z_0 | Z_1 | … | Z_{H-1}]",
    latex=r"\mathrm{Concat} = \left[\,Z_0 \;\middle|\; Z_1 \;\middle|\; \cdots \;\middle|\; Z_{H-1}\,\right]",
    meaning="Each head's output takes its own block of d_k columns; side by side they are d_model wide again.",
)
CONCAT_GRAD_FORMULA = Formula(
    plain="dZ_h = dConcat[:, h·d_k:(h+1)·d_k]",
    latex=r"\frac{\partial L}{\partial Z_h} = \frac{\partial L}{\partial \mathrm{Concat}}[:,\, h d_k:(h+1) d_k]",
    meaning="Concatenation only moves numbers, so each head gets back exactly its own columns of the gradient.",
)


def split(x: np.ndarray, n_heads: int) -> np.ndarray:
    t, d = x.shape
    return x.reshape(t, n_heads, d // n_heads).transpose(1, 0, 2)  # [H, T, d_k]


def concat(z: np.ndarray) -> np.ndarray:
    h, t, dk = z.shape
    return z.transpose(1, 0, 2).reshape(t, h * dk)  # [T, H*d_k]


def columns(h: int, d_k: int) -> tuple[slice, slice]:
    """The index of head h's columns in a [T, D] array."""
    return (slice(None), slice(h * d_k, (h + 1) * d_k))
