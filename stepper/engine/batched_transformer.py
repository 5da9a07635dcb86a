"""A transformer on a whole padded batch at once: the loss, every gradient and BatchNorm's running
statistics of one training update, or the loss and accuracy of an evaluation.

The same model as the recorded pass (transformer.py), computed for B examples together: each example's
<pad> keys are masked, pooling and the loss skip the pads, and BatchNorm counts only non-<pad> rows.

`running` (BatchNorm's running statistics) is a dict from a norm's parameter prefix — "layers.0.ln1",
"layers.0.ln2", "ln_f" — to batchnorm.Stats(mean [D], var [D]); a norm missing from it starts at
torch's mean 0, variance 1. LayerNorm models have no running statistics (None).
"""

from __future__ import annotations

import math

import numpy as np

from stepper.engine import dropout, positional, positional_concat
from stepper.engine.batched_blocks import (
    Norms,
    Shape,
    attention_backward,
    attention_forward,
    ffn_backward,
    ffn_forward,
)
from stepper.engine.batches import Batch
from stepper.engine.loss import log_softmax
from stepper.scenario.types import PAD, Scenario


class BatchedTransformer:
    def __init__(self, sc: Scenario):
        self.m, self.names = sc.model, list(sc.params)
        self.next_token = sc.task.kind == "next_token"
        self.pad_id = sc.vocab.index(PAD) if PAD in sc.vocab else -1
        self.n_vocab = len(sc.vocab)
        m = self.m
        self.cosine = m.attention == "cosine"  # unit Q and K rows, their cosines divided by τ
        self.factor = 1.0 / (m.attention_temperature if self.cosine else math.sqrt(m.d_k) if m.attention_scale else 1.0)
        self._sinusoids: dict[int, np.ndarray] = {}

    def loss_and_grads(self, params: dict[str, np.ndarray], batch: Batch, *,
                       masks: list[dropout.LayerMasks] | None = None, running: dict | None = None):
        """Training mode: (loss, grads in the scenario's parameter order, new running statistics or None).
        `masks`: the update's dropout keep-masks (dropout.masks), or None for no dropout."""
        loss, cache, norms = self._forward(params, batch, masks or None, running, train=True)
        grads = self._backward(params, cache, norms)
        grads = {name: grads[name] if name in grads else np.zeros_like(params[name]) for name in self.names}
        return loss, grads, (norms.running if norms.batch else None)

    def evaluate(self, params: dict[str, np.ndarray], batch: Batch, running: dict | None):
        """Evaluation mode (no dropout, BatchNorm's running statistics): (loss, examples classified
        right — the lowest index wins a tie, as numpy's argmax — or None for next_token)."""
        loss, cache, _ = self._forward(params, batch, None, running, train=False)
        if self.next_token:
            return loss, None
        logits = cache["logits"]  # [B, C]
        return loss, int((logits.argmax(axis=1) == batch.labels).sum())

    # -- forward -----------------------------------------------------------------
    def _forward(self, params, batch: Batch, masks, running, *, train: bool):
        m = self.m
        ids, pad = batch.ids, batch.pad  # [B, T]
        b, t = ids.shape
        s = Shape(b, t, m.n_heads, m.d_k)
        rows = None if not pad.any() else ~pad.reshape(-1)  # [N] the rows BatchNorm counts
        norms = Norms(m.norm_type, m.norm_eps, rows, running, train)
        x = self._embed(params, ids)  # [N, D]
        ok = ~pad[:, None, None, :]  # [B, 1, 1, T] may a query see this key
        if m.kind == "decoder":
            ok = ok & np.tri(t, dtype=bool)  # [B, 1, T, T]
        bias = np.where(ok, 0.0, -np.inf)
        keeps = masks or [dropout.LayerMasks(None, None, None)] * m.n_layers
        x, layers = self._stack_forward(params, x, keeps, "layers", s, bias, norms)
        final = None
        if m.final_norm:
            x, final = norms.forward(x, params, "ln_f")
        cache = {"shape": s, "ids": ids, "layers": layers, "final": final, "h": x}
        loss = self._head(params, x, batch, s, cache)
        return loss, cache, norms

    def _embed(self, params, ids: np.ndarray) -> np.ndarray:
        """Token rows plus (or, concat: beside) positions from 0 of ids [B, T], flattened to [B·T, D]."""
        m, (b, t) = self.m, ids.shape
        x = params["embed.tok"][ids]  # [B, T, D] (concat: [B, T, d_tok])
        if m.positional == "sinusoidal":
            x = x + self._sinusoid(t)
        elif m.positional == "learned":
            x = x + params["embed.pos"][:t]
        elif m.positional == "concat":
            x = positional_concat.forward(x, self._sinusoid(t))  # [B, T, D]
        return x.reshape(b * t, m.d_model)

    def _sublayer(self, x, params, norms: Norms, norm_at: str, keep, block, residual: bool = True):
        """Pre-norm x + F(N(x)), post-norm N(x + F(x)), or x + F(x); F's output dropped out by `keep`.
        Without the `residual`, F's output replaces the stream: F(N(x)), N(F(x)), F(x)."""
        placement = self.m.norm
        pre = post = None
        a = x
        if placement == "pre":
            a, pre = norms.forward(x, params, norm_at)
        out, block_cache = block(a)
        drop = None
        if keep is not None:
            out, drop = dropout.forward(out, keep.reshape(out.shape), self.m.dropout)
        r = x + out if residual else out
        if placement == "post":
            r, post = norms.forward(r, params, norm_at)
        return r, (pre, block_cache, drop, post, residual)

    def _head(self, params, h, batch: Batch, s: Shape, cache) -> float:
        m = self.m
        if self.next_token:
            read = h  # [N, D]: every position predicts its next token
        else:
            pool = _pool_weights(m.pooling, batch.pad)  # [B, T]
            read = (pool[:, None, :] @ h.reshape(s.b, s.t, -1))[:, 0]  # [B, D]
            cache["pool"] = pool
        if m.tie_embeddings:
            logits = read @ params["embed.tok"].T
        else:
            logits = read @ params["head.W"]
            if "head.b" in params:
                logits = logits + params["head.b"]
        if self.next_token:
            targets = batch.targets.reshape(-1)  # [N]
            counted = (targets >= 0) & (targets != self.pad_id)
        else:
            targets, counted = batch.labels, np.ones(s.b, bool)
        rows = np.flatnonzero(counted)
        picked = targets[rows]
        logp = log_softmax(logits)  # [rows, C]
        cache.update(logits=logits, read=read, logp=logp, rows=rows, picked=picked)
        return float(-logp[rows, picked].sum() / len(rows))

    # -- backward ----------------------------------------------------------------
    def _backward(self, params, c, norms: Norms) -> dict[str, np.ndarray]:
        s, grads = c["shape"], {}
        d_read = self._head_backward(params, c, grads)
        if self.next_token:
            dx = d_read  # [N, D]
        else:
            dx = (c["pool"][:, :, None] * d_read[:, None, :]).reshape(s.b * s.t, -1)  # [N, D]
        if c["final"] is not None:
            dx = norms.backward(dx, c["final"], "ln_f", grads)
        dx = self._stack_backward(params, dx, c["layers"], "layers", s, norms, grads)
        self._embed_backward(params, dx, c["ids"], grads)
        return grads

    def _stack_forward(self, params, x: np.ndarray, keeps, prefix: str, shape, bias, norms):
        """Up a stack of (attention, FFN) layers named `{prefix}.{i}`, one per dropout mask set in `keeps`:
        (its output, each layer's (attention, FFN) caches; the FFN's None in an attention-only block)."""
        m, layers = self.m, []
        for i, keep in enumerate(keeps):
            at = f"{prefix}.{i}"
            x, attn = self._sublayer(x, params, norms, f"{at}.ln1", keep.attn_out, lambda a, at=at, on=keep.attn: (
                attention_forward(a, params, f"{at}.attn", shape, bias, self.factor, on, m.dropout, cosine=self.cosine)),
                m.keeps_residual("attention"))
            ffn = None  # `ffn: false`: an attention-only block
            if m.ffn:
                x, ffn = self._sublayer(x, params, norms, f"{at}.ln2", keep.ffn_out,
                                        lambda a, at=at: ffn_forward(a, params, f"{at}.ffn", m.activation),
                                        m.keeps_residual("ffn"))
            layers.append((attn, ffn))
        return x, layers

    def _stack_backward(self, params, dx: np.ndarray, layers, prefix: str, shape, norms, grads: dict) -> np.ndarray:
        """Back down a stack of (attention, FFN) layers named `{prefix}.{i}`: the gradient at its input."""
        for i in range(len(layers) - 1, -1, -1):
            attn, ffn = layers[i]
            at = f"{prefix}.{i}"
            if ffn is not None:
                dx = self._sublayer_backward(dx, ffn, norms, f"{at}.ln2", grads, lambda d, bc, at=at: (
                    ffn_backward(d, bc, params, f"{at}.ffn", grads)))
            dx = self._sublayer_backward(dx, attn, norms, f"{at}.ln1", grads, lambda d, bc, at=at: (
                attention_backward(d, bc, params, f"{at}.attn", shape, self.factor, grads)))
        return dx

    def _head_backward(self, params, c, grads: dict) -> np.ndarray:
        """The cross-entropy's gradient through the head: dLoss/d(the rows it read); a tied head's part
        of the table's gradient goes into grads["embed.tok"]."""
        rows, picked = c["rows"], c["picked"]
        dz = np.zeros_like(c["logits"])  # [rows, C]
        dz[rows] = np.exp(c["logp"][rows])
        dz[rows, picked] -= 1.0
        dz /= len(rows)
        read = c["read"]
        if self.m.tie_embeddings:
            grads["embed.tok"] = dz.T @ read
            return dz @ params["embed.tok"]
        grads["head.W"] = read.T @ dz
        if "head.b" in params:
            grads["head.b"] = dz.sum(axis=0)
        return dz @ params["head.W"].T

    def _embed_backward(self, params, dx: np.ndarray, ids: np.ndarray, grads: dict) -> None:
        """dx [B·T, D] of the embedded ids [B, T] added into the table's (and learned positions') gradient."""
        b, t = ids.shape
        if self.m.positional == "concat":  # the sinusoid columns are fixed: only the token columns go on
            dx = positional_concat.backward(dx, self.m.d_tok)  # [B·T, d_tok]
        if self.m.positional == "learned":
            d_pos = grads.setdefault("embed.pos", np.zeros_like(params["embed.pos"]))
            d_pos[:t] += dx.reshape(b, t, -1).sum(axis=0)
        lookup = np.zeros((self.n_vocab, b * t))  # [V, N]: which row read which token
        lookup[ids.reshape(-1), np.arange(b * t)] = 1.0
        part = lookup @ dx
        grads["embed.tok"] = part if "embed.tok" not in grads else grads["embed.tok"] + part

    @staticmethod
    def _sublayer_backward(dout, cache, norms: Norms, norm_at: str, grads, block_backward):
        pre, block_cache, drop, post, residual = cache
        if post is not None:
            dout = norms.backward(dout, post, norm_at, grads)
        d_block = dout if drop is None else dropout.backward(dout, drop)
        d_in = block_backward(d_block, block_cache)
        if pre is not None:
            d_in = norms.backward(d_in, pre, norm_at, grads)
        return dout + d_in if residual else d_in

    def _sinusoid(self, t: int) -> np.ndarray:
        if t not in self._sinusoids:
            width = self.m.d_pos if self.m.positional == "concat" else self.m.d_model
            self._sinusoids[t] = positional.sinusoidal(t, width)  # [T, D] (concat: [T, d_pos])
        return self._sinusoids[t]


def _pool_weights(kind: str, pad: np.ndarray) -> np.ndarray:
    """[B, T]: each example's pooling as weights on its rows (mean over non-<pad>, first, last non-<pad>)."""
    b, t = pad.shape
    w = np.zeros((b, t))
    if kind == "first":
        w[:, 0] = 1.0
    elif kind == "last":
        w[np.arange(b), t - 1 - np.argmax(~pad[:, ::-1], axis=1)] = 1.0
    else:
        kept = ~pad
        w[kept] = np.broadcast_to(1.0 / kept.sum(axis=1, keepdims=True), (b, t))[kept]
    return w
