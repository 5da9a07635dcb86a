"""Positional encoding: added to the token embeddings so attention can tell positions apart."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d));  X = E + PE",
    latex=r"PE_{p,2i} = \sin\!\left(\frac{p}{10000^{2i/d}}\right),\quad PE_{p,2i+1} = \cos\!\left(\frac{p}{10000^{2i/d}}\right),\quad X = E + PE",
    meaning="Attention alone ignores order; adding a distinct wave pattern per position lets the model see where each token sits.",
)
LEARNED_FORMULA = Formula(
    plain="X = E + embed.pos[0:T]",
    latex=r"X_t = E_t + W_{\mathrm{pos}}[t]",
    meaning="Learned positions: one trainable row per position, added to the token embedding.",
)
SINUSOIDAL_GRAD_FORMULA = Formula(
    plain="dE = dX  (the sin/cos table is fixed: it has no gradient)",
    latex=r"\frac{\partial L}{\partial E} = \frac{\partial L}{\partial X}",
    meaning="An addition passes its gradient through unchanged; the sinusoidal table is not learned, so only E receives it.",
)
GRAD_FORMULA = Formula(
    plain="dE = dX;  d embed.pos[t] = dX[t]",
    latex=r"\frac{\partial L}{\partial E} = \frac{\partial L}{\partial X},\quad \frac{\partial L}{\partial W_{\mathrm{pos}}[t]} = \frac{\partial L}{\partial X_t}",
    meaning="An addition passes its gradient through unchanged to both terms.",
)


def sinusoidal(n_pos: int, d: int) -> np.ndarray:
    pos = np.arange(n_pos)[:, None]  # [T, 1]
    two_i = np.arange(0, d, 2)  # [ceil(d/2)]
    angle = pos / np.power(10000.0, two_i / d)  # [T, ceil(d/2)]
    pe = np.zeros((n_pos, d))  # [T, D]
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d // 2])
    return pe


def forward(emb: np.ndarray, pe: np.ndarray):
    return emb + pe, None  # [T, D]


def backward(dout: np.ndarray, cache, max_len: int | None = None):
    """Returns (d emb, d embed.pos or None)."""
    if max_len is None:
        return dout, None
    dpos = np.zeros((max_len, dout.shape[1]))  # [max_len, D]
    dpos[: dout.shape[0]] = dout
    return dout, dpos
