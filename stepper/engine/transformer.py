"""The transformer's pass, recorded one operation at a time: embeddings, layers, final norm, head, loss;
then every gradient back down the same road.

`forward` returns the loss and a cache (one object per layer); `backward` reads only that cache.
Where one activation fed several operations, a `merge` step adds the gradients that come back
along each path; that sum is the residual connection's whole trick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import embed_steps, mask, output_head
from stepper.engine.layer import LayerCache, LayerNorms, encoder_layer_forward, layer_backward
from stepper.engine.record import Labels, Recorder, fmt_num
from stepper.engine.recorded import Keyed, NormCache, norm_backward, norm_forward
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import PAD, Scenario
from stepper.trace_keys import (
    EMBED_POS,
    EMBED_TOK,
    FINAL_NORM,
    LOGITS,
    TOK_EMB,
    EmbedKeys,
    LayerKeys,
    grad,
    grad_through,
)


@dataclass
class PassCache:
    """What the backward pass needs of the forward one."""

    embed: embed_steps.EmbedCache
    layers: list[LayerCache]
    final_norm: NormCache | None
    head: output_head.HeadCache
    logits: np.ndarray


class TransformerPass:
    """One scenario's pass with these weights; records its steps when given a Recorder."""

    def __init__(self, sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
        self.sc, self.m = sc, sc.model
        self.next_token = sc.task.kind == "next_token"
        ids = np.array(sc.token_ids)
        self.ids = ids[:-1] if self.next_token else ids  # [T]: next_token reads [A..D] to predict [B..E]
        self.targets = ids[1:] if self.next_token else np.array([sc.task.label_index])  # [N]
        tokens = sc.tokens[:-1] if self.next_token else sc.tokens
        self.pad_keys = np.array([t == PAD for t in tokens])  # [T]
        m = self.m
        labels = Labels(tokens, sc.vocab, list(sc.task.classes), m.d_model, m.d_ff, m.n_heads)
        self.w = StepWriter(rec, labels, params, labels.vocab if self.next_token else labels.classes)
        self.norms = LayerNorms(m.norm, m.norm_eps, m.d_model, m.norm_type, ~self.pad_keys)

    def param_labels(self, name: str, value: np.ndarray) -> tuple[list[str] | None, list[str]]:
        return self.w.param_labels(name, value)

    @staticmethod
    def logits(cache: PassCache) -> np.ndarray:
        return cache.logits

    def forward(self) -> tuple[float, PassCache]:
        m, w = self.m, self.w
        x, embed = self.embed()
        ok = mask.allowed(self.pad_keys, causal=m.kind == "decoder")  # [T, T]
        layers = []
        for i in range(m.n_layers):
            x, layer = encoder_layer_forward(w, self.norms, LayerKeys(i), x, ok, m, self.mask_name())
            layers.append(layer)
        final = None
        if m.final_norm:
            x, final = norm_forward(w, "fwd.ln_f", f"Final {self.norms.name}", x, FINAL_NORM, m.norm_eps,
                                    bindings={"ε": fmt_num(m.norm_eps)}, norm_type=m.norm_type,
                                    rows=self.norms.rows)
        loss, logits, head = output_head.forward(w, x, **self.task())
        return loss, PassCache(embed, layers, final, head, logits)

    def backward(self, c: PassCache) -> dict[str, np.ndarray]:
        w, grads = self.w, {}
        dx = output_head.backward(w, c.head, grads)
        if c.final_norm is not None:
            dx = norm_backward(w, "bwd.ln_f", f"Through final {self.norms.name}", dx, c.final_norm, grad(c.final_norm.x.key),
                               grads, self.m.norm_eps)
        for layer in reversed(c.layers):
            dx = layer_backward(w, self.norms, dx, layer, grads)
        self.embed_backward(dx, c.embed, grads)
        return grads

    # -- the ends ----------------------------------------------------------------
    def embed(self) -> tuple[Keyed, embed_steps.EmbedCache]:
        """x0 = embed.tok[ids] (+ the positions): the stream entering layer 0."""
        return embed_steps.forward(self.w, self.ids, EmbedKeys(), self.m)

    def embed_backward(self, dx: np.ndarray, cache: embed_steps.EmbedCache, grads: dict[str, np.ndarray]) -> None:
        m, w, lab = self.m, self.w, self.w.lab
        tied = m.tie_embeddings
        lookup = grad_through(EMBED_TOK, TOK_EMB) if tied else grad(EMBED_TOK)
        d_table, d_pos = embed_steps.backward(w, dx, cache, m, lookup, grad(EMBED_POS))
        if d_pos is not None:
            grads[EMBED_POS] = d_pos
        if tied:  # the table also scored the outputs: its gradient is the head's part plus the lookup's
            d_table = embed_steps.merge_table(
                w, "bwd.embed.merge", "Tied table: head + lookup", EMBED_TOK,
                [("dW_head", grads[EMBED_TOK], grad_through(EMBED_TOK, LOGITS)), ("dW_lookup", d_table, lookup)],
                lab.vocab)
        grads[EMBED_TOK] = d_table

    def task(self) -> dict:
        """What the head scores, and against which targets."""
        sc = self.sc
        targets = self.targets
        if self.next_token:
            keep = targets != sc.vocab.index(PAD) if PAD in sc.vocab else np.ones(len(targets), bool)
            labels = [sc.vocab[t] for t in targets]
        else:
            keep, labels = np.array([True]), [sc.task.label]
        return {"pooling_kind": None if self.next_token else self.m.pooling, "kept_rows": ~self.pad_keys,
                "tied": self.m.tie_embeddings, "targets": targets, "keep": keep, "target_labels": labels}

    def mask_name(self) -> str:
        parts = (["causal"] if self.m.kind == "decoder" else []) + (["<pad> keys"] if self.pad_keys.any() else [])
        return " + ".join(parts) or "none"
