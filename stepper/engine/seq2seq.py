"""The encoder–decoder's pass (`kind: seq2seq`, torch.nn.Transformer's semantics), recorded one operation
at a time: the source through the encoder stack into the memory; the target (teacher forcing: it reads
target[:-1]) through the decoder stack, whose cross-attention reads the memory; the head and the loss
over target[1:]. Then every gradient back down both stacks.

Two sums are steps of their own: the memory's gradient, which every decoder layer's cross-attention
sends back through its K and its V (`bwd.enc.memory.merge`), and the shared embedding table's, which the
source lookup, the target lookup and a tied head each add to (`bwd.embed.merge`; `bwd.pos.merge` for
learned positions, which both sequences read from 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import embed_steps, mask, output_head
from stepper.engine.decoder_layer import DecoderInputs, decoder_layer_forward
from stepper.engine.layer import LayerCache, LayerNorms, encoder_layer_forward, layer_backward
from stepper.engine.record import Labels, Recorder, fmt_num
from stepper.engine.recorded import Keyed, NormCache, merge, norm_backward, norm_forward
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import PAD, Scenario
from stepper.trace_keys import (
    DECODER_NORM,
    EMBED_POS,
    EMBED_TOK,
    ENCODER_NORM,
    LOGITS,
    SOURCE_EMBED,
    TARGET_EMBED,
    NormKeys,
    decoder_layer,
    encoder_layer,
    grad,
    grad_through,
)


@dataclass
class Seq2SeqCache:
    """What the backward pass needs of the forward one."""

    source: embed_steps.EmbedCache
    encoder: list[LayerCache]
    encoder_norm: NormCache | None
    decoder_inputs: DecoderInputs  # the memory, the masks, and (backward) the memory's gradient parts
    target: embed_steps.EmbedCache
    decoder: list[LayerCache]
    decoder_norm: NormCache | None
    head: output_head.HeadCache
    logits: np.ndarray  # [T_t - 1, V]


class Seq2SeqPass:
    """One seq2seq scenario's pass with these weights; records its steps when given a Recorder."""

    def __init__(self, sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
        self.sc, self.m = sc, sc.model
        m, index = self.m, {t: i for i, t in enumerate(sc.vocab)}
        self.src_ids = np.array([index[t] for t in sc.source_tokens], dtype=int)  # [T_s]
        ids = np.array(sc.token_ids)
        self.tgt_ids, self.targets = ids[:-1], ids[1:]  # [T_t]: read target[:-1], predict target[1:]
        self.src_pad = np.array([t == PAD for t in sc.source_tokens], dtype=bool)  # [T_s]
        self.tgt_pad = np.array([t == PAD for t in sc.tokens[:-1]], dtype=bool)  # [T_t]
        labels = Labels(sc.tokens[:-1], sc.vocab, [], m.d_model, m.d_ff, m.n_heads)
        self.w = StepWriter(rec, labels, params, labels.vocab)  # rows: the target tokens the decoder reads
        self.w_src = self.w.for_tokens(list(sc.source_tokens))  # rows: the source tokens
        self.enc_norms = LayerNorms(m.norm, m.norm_eps, m.d_model, m.norm_type, ~self.src_pad)
        self.dec_norms = LayerNorms(m.norm, m.norm_eps, m.d_model, m.norm_type, ~self.tgt_pad)

    def param_labels(self, name: str, value: np.ndarray) -> tuple[list[str] | None, list[str]]:
        return self.w.param_labels(name, value)

    @staticmethod
    def logits(cache: Seq2SeqCache) -> np.ndarray:
        return cache.logits

    def forward(self) -> tuple[float, Seq2SeqCache]:
        m = self.m
        w_enc, w_dec = self.w_src.titled("Encoder: "), self.w.titled("Decoder: ")
        x, source = embed_steps.forward(self.w_src, self.src_ids, SOURCE_EMBED, m, "source")
        src_mask = "<pad> keys (source)" if self.src_pad.any() else "none"
        enc_ok = mask.allowed(self.src_pad, causal=False)  # [T_s, T_s]
        encoder = []
        for i in range(m.n_layers):
            x, layer = encoder_layer_forward(w_enc, self.enc_norms, encoder_layer(i), x, enc_ok, m, src_mask)
            encoder.append(layer)
        x, enc_final = self._final_norm(w_enc, x, ENCODER_NORM, self.enc_norms)
        inputs = DecoderInputs(
            memory=x, w_memory=self.w_src, self_ok=mask.allowed(self.tgt_pad, causal=True),
            cross_ok=mask.allowed(self.src_pad, causal=False, n_queries=len(self.tgt_ids)),
            self_mask="causal + <pad> keys" if self.tgt_pad.any() else "causal", cross_mask=src_mask)
        y, target = embed_steps.forward(self.w, self.tgt_ids, TARGET_EMBED, m, "target")
        decoder = []
        for i in range(m.n_dec_layers):
            y, layer = decoder_layer_forward(w_dec, self.dec_norms, decoder_layer(i), y, inputs, m)
            decoder.append(layer)
        y, dec_final = self._final_norm(w_dec, y, DECODER_NORM, self.dec_norms)
        pad = self.sc.vocab.index(PAD) if PAD in self.sc.vocab else -1
        loss, logits, head = output_head.forward(
            self.w, y, pooling_kind=None, kept_rows=~self.tgt_pad, tied=m.tie_embeddings, targets=self.targets,
            keep=self.targets != pad, target_labels=[self.sc.vocab[t] for t in self.targets])
        return loss, Seq2SeqCache(source, encoder, enc_final, inputs, target, decoder, dec_final, head, logits)

    def backward(self, c: Seq2SeqCache) -> dict[str, np.ndarray]:
        m, grads = self.m, {}
        w_enc, w_dec = self.w_src.titled("Encoder: "), self.w.titled("Decoder: ")
        dy = output_head.backward(self.w, c.head, grads)
        head_part = grads.pop(EMBED_TOK, None)  # tied: the head's part of the table's gradient
        dy = self._final_norm_backward(w_dec, dy, c.decoder_norm, grads)
        for layer in reversed(c.decoder):
            dy = layer_backward(w_dec, self.dec_norms, dy, layer, grads)
        d_tgt, d_tgt_pos = embed_steps.backward(self.w, dy, c.target, m, grad_through(EMBED_TOK, TARGET_EMBED.tok_emb),
                                                grad_through(EMBED_POS, TARGET_EMBED.pos))
        memory = c.decoder_inputs.memory
        # the memory fed every decoder layer's K and V: its gradient is the sum of all those parts
        parts = c.decoder_inputs.memory_paths
        dx = (merge(w_enc, "bwd.enc.memory.merge", "Sum into the memory: every cross-attention's K and V",
                    memory.key, parts, layer=None) if parts else np.zeros_like(memory.value))
        dx = self._final_norm_backward(w_enc, dx, c.encoder_norm, grads)
        for layer in reversed(c.encoder):
            dx = layer_backward(w_enc, self.enc_norms, dx, layer, grads)
        d_src, d_src_pos = embed_steps.backward(self.w_src, dx, c.source, m,
                                                grad_through(EMBED_TOK, SOURCE_EMBED.tok_emb),
                                                grad_through(EMBED_POS, SOURCE_EMBED.pos))
        tables = [] if head_part is None else [("dW_head", head_part, grad_through(EMBED_TOK, LOGITS))]
        tables += [("dW_src", d_src, grad_through(EMBED_TOK, SOURCE_EMBED.tok_emb)),
                   ("dW_tgt", d_tgt, grad_through(EMBED_TOK, TARGET_EMBED.tok_emb))]
        title = "Shared table: head + source + target" if head_part is not None else "Shared table: source + target"
        grads[EMBED_TOK] = embed_steps.merge_table(self.w, "bwd.embed.merge", title, EMBED_TOK, tables, self.w.lab.vocab)
        if d_src_pos is not None:
            grads[EMBED_POS] = embed_steps.merge_table(
                self.w, "bwd.pos.merge", "Shared positions: source + target", EMBED_POS,
                [("dW_pos_src", d_src_pos, grad_through(EMBED_POS, SOURCE_EMBED.pos)),
                 ("dW_pos_tgt", d_tgt_pos, grad_through(EMBED_POS, TARGET_EMBED.pos))],
                [f"p{i}" for i in range(m.max_len)])
        return grads

    def _final_norm(self, w: StepWriter, x: Keyed, keys: NormKeys, norms: LayerNorms) -> tuple[Keyed, NormCache | None]:
        if not self.m.final_norm:
            return x, None
        return norm_forward(w, f"fwd.{keys.out}", f"Final {norms.name}", x, keys, self.m.norm_eps,
                            bindings={"ε": fmt_num(self.m.norm_eps)}, norm_type=norms.norm_type, rows=norms.rows)

    def _final_norm_backward(self, w: StepWriter, dx: np.ndarray, c: NormCache | None,
                             grads: dict[str, np.ndarray]) -> np.ndarray:
        if c is None:
            return dx
        name = "BatchNorm" if c.norm_type == "batch" else "LayerNorm"
        return norm_backward(w, f"bwd.{c.keys.out}", f"Through final {name}", dx, c, grad(c.x.key), grads,
                             self.m.norm_eps)
