"""Inverted dropout: during a training update, each entry is kept with probability 1 − p and the kept
ones are scaled by 1/(1 − p), so that the expected value is unchanged and evaluation needs no rescaling.

The keep-masks are inputs, like the weights: `masks` draws them for update t from a seed, in a fixed
order, so the torch reference receives exactly the same ones.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="Y = X ⊙ keep / (1 − p),  keep[i] = 1 with probability 1 − p, else 0",
    latex=r"Y = \frac{X \odot \mathrm{keep}}{1 - p},\quad \mathrm{keep}_i \sim \mathrm{Bernoulli}(1 - p)",
    meaning="A random share p of the entries is zeroed for this update; the rest grow by 1/(1−p) so the average stays the same.",
)
GRAD_FORMULA = Formula(
    plain="dX = dY ⊙ keep / (1 − p)",
    latex=r"\frac{\partial L}{\partial X} = \frac{\partial L}{\partial Y} \odot \frac{\mathrm{keep}}{1 - p}",
    meaning="A dropped entry had no effect on the loss, so it gets no gradient; a kept one passes it on, scaled.",
)


class LayerMasks(NamedTuple):
    """One layer's keep-masks for one update (True: kept)."""

    attn: np.ndarray  # [B, H, T, T] on the attention weights A, after the softmax, before A·V
    attn_out: np.ndarray  # [B, T, D] on the attention sublayer's output, before its residual add
    ffn_out: np.ndarray  # [B, T, D] on the FFN's output, before its residual add


def masks(p: float, seed: int, t: int, n_layers: int, b: int, h: int, n_tok: int, d: int) -> list[LayerMasks]:
    """The keep-masks of update `t` (0-based): drawn from default_rng([seed, t]), layer by layer, in the
    order attention weights, attention output, FFN output. p = 0 draws nothing: no masks."""
    if p <= 0.0:
        return []
    rng = np.random.default_rng([seed, t])
    out = []
    for _ in range(n_layers):
        attn = rng.random((b, h, n_tok, n_tok)) >= p  # [B, H, T, T]
        attn_out = rng.random((b, n_tok, d)) >= p  # [B, T, D]
        ffn_out = rng.random((b, n_tok, d)) >= p  # [B, T, D]
        out.append(LayerMasks(attn, attn_out, ffn_out))
    return out


class DecoderMasks(NamedTuple):
    """One seq2seq decoder layer's keep-masks for one update (True: kept): the self-attention's, the
    cross-attention's, then the FFN output's, each sublayer's output before its residual add."""

    self_attn: np.ndarray  # [B, H, T_t, T_t] the self-attention weights
    self_out: np.ndarray  # [B, T_t, D]
    cross_attn: np.ndarray  # [B, H, T_t, T_s] the cross-attention weights
    cross_out: np.ndarray  # [B, T_t, D]
    ffn_out: np.ndarray  # [B, T_t, D]


class Seq2SeqMasks(NamedTuple):
    encoder: list[LayerMasks]  # per encoder layer, over the source positions T_s
    decoder: list[DecoderMasks]


def seq2seq_masks(p: float, seed: int, t: int, m, b: int, t_src: int, t_tgt: int) -> Seq2SeqMasks | None:
    """A seq2seq's keep-masks of update `t`, from the same default_rng([seed, t]): every encoder layer as
    `masks` draws them (over the T_s source positions), then every decoder layer in the order self-attention
    weights, self-attention output, cross-attention weights, cross-attention output, FFN output.
    `m`: the ModelConfig. p = 0: None."""
    if p <= 0.0:
        return None
    rng = np.random.default_rng([seed, t])
    h, d = m.n_heads, m.d_model
    encoder = [LayerMasks(rng.random((b, h, t_src, t_src)) >= p, rng.random((b, t_src, d)) >= p,
                          rng.random((b, t_src, d)) >= p) for _ in range(m.n_layers)]
    decoder = [DecoderMasks(rng.random((b, h, t_tgt, t_tgt)) >= p, rng.random((b, t_tgt, d)) >= p,
                            rng.random((b, h, t_tgt, t_src)) >= p, rng.random((b, t_tgt, d)) >= p,
                            rng.random((b, t_tgt, d)) >= p) for _ in range(m.n_dec_layers)]
    return Seq2SeqMasks(encoder, decoder)


def forward(x: np.ndarray, keep: np.ndarray, p: float):
    scale = keep * (1.0 / (1.0 - p))  # [like x]: 0 where dropped, 1/(1−p) where kept
    return x * scale, scale


def backward(dout: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return dout * scale  # [like x]
