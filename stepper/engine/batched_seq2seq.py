"""An encoder–decoder on a whole padded batch at once: the loss and every gradient of one training update
(teacher forcing), or the loss of an evaluation.

The same model as the recorded pass (seq2seq.py), for B examples together: the sources right-padded
to the batch's longest source, the targets' inputs (target[:-1]) to the longest of those. The source's
<pad> keys are masked in the encoder's self-attention and in every cross-attention, the target's <pad>
keys (and the future) in the decoder's self-attention. The loss is the mean cross-entropy over every
non-<pad> predicted token of the batch (token-weighted), as next_token's.

The memory (the encoder's output) feeds every decoder layer's cross-attention: its gradient is the sum
of each one's K and V parts. BatchNorm counts the non-<pad> rows of the stream it normalises (the
sources in the encoder, the targets in the decoder); `running` is keyed by the norms' parameter
prefixes, "encoder.layers.0.ln1" … "decoder.layers.0.ln3", "encoder.ln_f", "decoder.ln_f".
"""

from __future__ import annotations

import numpy as np

from stepper.engine.batched_blocks import (
    Norms,
    Shape,
    attention_backward,
    attention_forward,
    cross_attention_backward,
    cross_attention_forward,
    ffn_backward,
    ffn_forward,
)
from stepper.engine.batched_transformer import BatchedTransformer
from stepper.engine.batches import Batch
from stepper.engine.dropout import DecoderMasks, LayerMasks, Seq2SeqMasks
from stepper.scenario.types import Scenario

NO_ENCODER_MASKS = LayerMasks(None, None, None)
NO_DECODER_MASKS = DecoderMasks(None, None, None, None, None)


def _bias(ok: np.ndarray) -> np.ndarray:
    return np.where(ok, 0.0, -np.inf)


class BatchedSeq2Seq(BatchedTransformer):
    """`loss_and_grads` and `evaluate` as BatchedTransformer's (their accuracy: None, as next_token's);
    `masks` is the update's dropout.Seq2SeqMasks, or None."""

    def __init__(self, sc: Scenario):
        super().__init__(sc)
        self.next_token = True  # every decoder position predicts its next target token

    # -- forward -----------------------------------------------------------------
    def _forward(self, params, batch: Batch, masks: Seq2SeqMasks | None, running, *, train: bool):
        m = self.m
        (b, t_src), t_tgt = batch.source.shape, batch.ids.shape[1]
        enc, dec = Shape(b, t_src, m.n_heads, m.d_k), Shape(b, t_tgt, m.n_heads, m.d_k)
        cross = Shape(b, t_tgt, m.n_heads, m.d_k, t_k=t_src)
        src_ok = ~batch.source_pad[:, None, None, :]  # [B, 1, 1, T_s]: a <pad> source key is never read
        enc_bias = _bias(src_ok)
        self_bias = _bias(~batch.pad[:, None, None, :] & np.tri(t_tgt, dtype=bool))  # [B, 1, T_t, T_t]
        enc_masks = masks.encoder if masks else [NO_ENCODER_MASKS] * m.n_layers
        dec_masks = masks.decoder if masks else [NO_DECODER_MASKS] * m.n_dec_layers

        norms = Norms(m.norm_type, m.norm_eps, _rows(batch.source_pad), running, train)
        x = self._embed(params, batch.source)  # [B·T_s, D]
        x, encoder = self._stack_forward(params, x, enc_masks, "encoder.layers", enc, enc_bias, norms)
        enc_final = None
        if m.final_norm:
            x, enc_final = norms.forward(x, params, "encoder.ln_f")
        memory = x

        # the decoder's norms count its own rows; the running statistics carry on from the encoder's
        enc_norms, norms = norms, Norms(m.norm_type, m.norm_eps, _rows(batch.pad), norms.running, train)
        y = self._embed(params, batch.ids)  # [B·T_t, D]
        decoder = []
        for i, keep in enumerate(dec_masks):
            at = f"decoder.layers.{i}"
            y, self_attn = self._sublayer(y, params, norms, f"{at}.ln1", keep.self_out, lambda a, at=at, on=keep.self_attn: (
                attention_forward(a, params, f"{at}.self_attn", dec, self_bias, self.factor, on, m.dropout)))
            y, cross_attn = self._sublayer(y, params, norms, f"{at}.ln2", keep.cross_out,
                                           lambda a, at=at, on=keep.cross_attn: cross_attention_forward(
                                               a, memory, params, f"{at}.cross_attn", cross, enc_bias, self.factor,
                                               on, m.dropout))
            y, ffn = self._sublayer(y, params, norms, f"{at}.ln3", keep.ffn_out,
                                    lambda a, at=at: ffn_forward(a, params, f"{at}.ffn", m.activation))
            decoder.append((self_attn, cross_attn, ffn))
        dec_final = None
        if m.final_norm:
            y, dec_final = norms.forward(y, params, "decoder.ln_f")
        cache = {"shapes": (enc, dec, cross), "source": batch.source, "ids": batch.ids, "encoder": encoder,
                 "enc_final": enc_final, "enc_norms": enc_norms, "decoder": decoder, "dec_final": dec_final,
                 "memory": memory}
        loss = self._head(params, y, batch, dec, cache)
        return loss, cache, norms

    # -- backward ----------------------------------------------------------------
    def _backward(self, params, c, norms: Norms) -> dict[str, np.ndarray]:
        m, grads = self.m, {}
        enc, dec, cross = c["shapes"]
        dy = self._head_backward(params, c, grads)  # [B·T_t, D]
        if c["dec_final"] is not None:
            dy = norms.backward(dy, c["dec_final"], "decoder.ln_f", grads)
        d_memory = np.zeros_like(c["memory"])  # every cross-attention's K and V parts add up here
        for i in range(m.n_dec_layers - 1, -1, -1):
            self_attn, cross_attn, ffn = c["decoder"][i]
            at = f"decoder.layers.{i}"
            dy = self._sublayer_backward(dy, ffn, norms, f"{at}.ln3", grads, lambda d, bc, at=at: (
                ffn_backward(d, bc, params, f"{at}.ffn", grads)))

            def cross_backward(d, bc, at=at):
                d_queries, d_mem = cross_attention_backward(d, bc, params, f"{at}.cross_attn", cross, self.factor,
                                                            grads)
                d_memory[...] += d_mem
                return d_queries

            dy = self._sublayer_backward(dy, cross_attn, norms, f"{at}.ln2", grads, cross_backward)
            dy = self._sublayer_backward(dy, self_attn, norms, f"{at}.ln1", grads, lambda d, bc, at=at: (
                attention_backward(d, bc, params, f"{at}.self_attn", dec, self.factor, grads)))
        self._embed_backward(params, dy, c["ids"], grads)

        norms, dx = c["enc_norms"], d_memory
        if c["enc_final"] is not None:
            dx = norms.backward(dx, c["enc_final"], "encoder.ln_f", grads)
        dx = self._stack_backward(params, dx, c["encoder"], "encoder.layers", enc, norms, grads)
        self._embed_backward(params, dx, c["source"], grads)
        return grads


def _rows(pad: np.ndarray) -> np.ndarray | None:
    """The rows BatchNorm counts (not <pad>), flat; None when every row counts."""
    return None if not pad.any() else ~pad.reshape(-1)
