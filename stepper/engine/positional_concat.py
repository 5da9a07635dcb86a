"""Concatenated positions (`positional: concat`): the token rows and fixed sinusoids side by side.

X = [E | PE]: E is d_tok = d_model − d_pos wide (embed.tok's rows), PE the sinusoids of width d_pos.
Nothing is added, so a token's own columns never mix with its position's: attention reads both apart.
"""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="PE[pos, 2i] = sin(pos / 10000^(2i/d_pos)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d_pos));  "
          "X = [E | PE]  (d_tok + d_pos = d_model columns)",
    latex=r"PE_{p,2i} = \sin\!\left(\frac{p}{10000^{2i/d_{pos}}}\right),\quad "
          r"PE_{p,2i+1} = \cos\!\left(\frac{p}{10000^{2i/d_{pos}}}\right),\quad X = [\,E \mid PE\,]",
    meaning="The position's waves are placed beside the token's columns instead of added onto them: "
            "the first d_tok columns say which token, the last d_pos where it sits.",
)
GRAD_FORMULA = Formula(
    plain="dE = dX[:, :d_tok]  (the sin/cos columns are fixed: they have no gradient)",
    latex=r"\frac{\partial L}{\partial E} = \frac{\partial L}{\partial X}_{[:,\,:d_{tok}]}",
    meaning="A concatenation hands each part its own columns of the gradient; only the token part reaches "
            "embed.tok.",
)


def forward(emb: np.ndarray, pe: np.ndarray) -> np.ndarray:
    """emb [..., T, d_tok] beside pe [T, d_pos] (the same positions for every sequence of a batch)."""
    pe = np.broadcast_to(pe, (*emb.shape[:-1], pe.shape[-1]))  # [..., T, d_pos]
    return np.concatenate([emb, pe], axis=-1)  # [..., T, d_model]


def backward(dx: np.ndarray, d_tok: int) -> np.ndarray:
    """d emb: the token columns of dx [..., T, d_model]."""
    return dx[..., :d_tok]  # [..., T, d_tok]
