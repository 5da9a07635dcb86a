"""Token embedding: a lookup table, one learned row per vocabulary entry."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="E = embed.tok[ids]",
    latex=r"E_t = W_{\mathrm{tok}}[\,\mathrm{id}_t\,]",
    meaning="Each token id picks its row of the embedding table: a lookup, not a multiplication.",
)
GRAD_FORMULA = Formula(
    plain="d embed.tok[id] += dE[t]  (for every position t)",
    latex=r"\frac{\partial L}{\partial W_{\mathrm{tok}}[v]} = \sum_{t:\,\mathrm{id}_t = v} \frac{\partial L}{\partial E_t}",
    meaning="Only the rows that were looked up get a gradient; a token used twice collects both positions' gradients.",
    roles=(("d embed.tok", "out 0"),),
)


def forward(ids: np.ndarray, table: np.ndarray):
    out = table[ids]  # [T, D]
    return out, (ids, table.shape)


def backward(dout: np.ndarray, cache) -> np.ndarray:
    ids, shape = cache
    dtable = np.zeros(shape)  # [V, D]
    np.add.at(dtable, ids, dout)  # scatter-add: repeated ids accumulate
    return dtable
