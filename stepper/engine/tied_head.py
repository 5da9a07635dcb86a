"""The tied output head: the embedding table, transposed, turns the final vectors into logits."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="logits = h · embed.tokᵀ",
    latex=r"z = h\,W_{\mathrm{tok}}^\top",
    meaning="The head reuses the embedding table: a token's logit is how well the final vector matches that token's embedding.",
)
GRAD_FORMULA = Formula(
    plain="dh = dlogits · embed.tok,  d embed.tok (head) = dlogitsᵀ · h",
    latex=r"\frac{\partial L}{\partial h} = \frac{\partial L}{\partial z} W_{\mathrm{tok}},\quad \frac{\partial L}{\partial W_{\mathrm{tok}}}\Big|_{\mathrm{head}} = \Big(\frac{\partial L}{\partial z}\Big)^{\!\top} h",
    meaning=FORMULA.meaning + " So the table gets gradient from the head as well as from the lookup.",
)


def forward(h: np.ndarray, table: np.ndarray):
    return h @ table.T, (h, table)  # [T, V] = [T, D] @ [D, V]


def backward(dz: np.ndarray, cache):
    """Returns (dh, the head's part of d embed.tok)."""
    h, table = cache
    dh = dz @ table  # [T, D] = [T, V] @ [V, D]
    dtable = dz.T @ h  # [V, D]
    return dh, dtable
