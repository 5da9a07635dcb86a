"""The end of the model: pooling (classification), the head that scores every output, and the loss.

The head is a linear map `head.W`, or with tied embeddings the embedding table itself (tied_head.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import linear, loss, pooling, tied_head
from stepper.engine.record import tensor
from stepper.engine.recorded import Keyed
from stepper.engine.step_writer import StepWriter
from stepper.trace_keys import (
    EMBED_TOK,
    HEAD_B,
    HEAD_W,
    LOGITS,
    PERPLEXITY,
    POOLED,
    PROBS,
    grad,
    grad_through,
)


@dataclass
class HeadCache:
    h: Keyed  # the final stream
    pooling: str | None  # how the rows were pooled (classification), or None: every row is scored
    pool: tuple | None  # pooling.forward's cache
    tied: bool
    scoring: tuple  # tied_head's or linear's forward cache
    loss: tuple  # loss.cross_entropy's cache
    probs: np.ndarray
    targets: np.ndarray  # [N] the index each scored row should predict


def forward(w: StepWriter, h: Keyed, *, pooling_kind: str | None, kept_rows: np.ndarray, tied: bool,
            targets: np.ndarray, keep: np.ndarray, target_labels: list[str]) -> tuple[float, np.ndarray, HeadCache]:
    """Returns (loss, logits, cache). `pooling_kind` None scores every row (next-token prediction);
    a mean pools over `kept_rows` [T] (not <pad>). The loss counts the rows of `keep` [N]."""
    rows = w.lab.tokens if pooling_kind is None else None
    final = w.td("h", h.value, h.key)
    x, read, pool = h.value, final, None
    if pooling_kind is not None:
        x, pool = pooling.forward(h.value, pooling.weights(pooling_kind, kept_rows))  # [D]
        w.step("fwd.pool", "pooling", f"Pool ({pooling_kind})", pooling.FORMULAS[pooling_kind], {"h": final},
               [w.dims("pooled", x, POOLED)])
        read = w.dims("pooled", x, POOLED)
    if tied:
        logits, scoring = tied_head.forward(x, w.params[EMBED_TOK])  # [T, V]
        formula, inputs = tied_head.FORMULA, {read.symbol: read, EMBED_TOK: w.param("W_tok", EMBED_TOK)}
    else:
        logits, scoring = linear.forward(x, w.params[HEAD_W], w.params.get(HEAD_B))  # [T, V] or [C]
        inputs = {read.symbol: read, "W": w.param("W", HEAD_W)}
        if HEAD_B in w.params:
            inputs["b"] = w.param("b", HEAD_B)
        formula = linear.FORMULA
    w.step("fwd.head", "linear", "Output head → logits", formula, inputs,
           {LOGITS: tensor("z", logits, LOGITS, rows, w.outputs)})
    value, probs, ce = loss.cross_entropy(logits, targets, keep)
    w.step("fwd.loss", "loss", "Softmax + cross-entropy", loss.CE_FORMULA,
           {LOGITS: tensor("z", logits, LOGITS, rows, w.outputs)},
           [tensor("p", probs, PROBS, rows, w.outputs), tensor("L", np.array(value), "loss"),
            tensor("PPL", loss.perplexity(value), PERPLEXITY)],
           bindings={"targets": ", ".join(target_labels), "N": str(int(keep.sum()))})
    return value, logits, HeadCache(h, pooling_kind, pool, tied, scoring, ce, probs, targets)


def backward(w: StepWriter, c: HeadCache, grads: dict[str, np.ndarray]) -> np.ndarray:
    """The final stream's gradient; the head's parameters' (or, tied, the table's head part) into grads."""
    lab, pooled = w.lab, c.pool is not None
    rows, cols = (None if pooled else lab.tokens), w.outputs
    dz = loss.cross_entropy_backward(c.loss)  # like logits
    onehot = np.zeros_like(np.atleast_2d(dz))  # [N, C]
    onehot[np.arange(onehot.shape[0]), c.targets] = 1.0
    w.step("bwd.loss", "loss", "Gradient at the logits", loss.CE_GRAD_FORMULA,
           [tensor("p", c.probs, PROBS, rows, cols), tensor("y", onehot.reshape(dz.shape), None, rows, cols)],
           [tensor("dz", dz, grad(LOGITS), rows, cols)])
    x_key = POOLED if pooled else c.h.key
    sym = "pooled" if pooled else "h"  # what the head read: the pooled vector, or every row
    x = c.scoring[0]
    read, dz_t = tensor(sym, x, x_key, rows, lab.dims), tensor("dz", dz, grad(LOGITS), rows, cols)
    if c.tied:
        dx, grads[EMBED_TOK] = tied_head.backward(dz, c.scoring)  # [T, D], [V, D]
        w.step("bwd.head", "linear", "Through the tied head", tied_head.GRAD_FORMULA,
               {"dz": dz_t, sym: read, EMBED_TOK: w.param("W_tok", EMBED_TOK)},
               [tensor(f"d{sym}", dx, grad(x_key), rows, lab.dims),
                tensor("dW_tok", grads[EMBED_TOK], grad_through(EMBED_TOK, LOGITS), lab.vocab, lab.dims)])
    else:
        dx, dw, db = linear.backward(dz, c.scoring)  # [T, D] / [D]
        grads[HEAD_W] = dw
        outs = [tensor(f"d{sym}", dx, grad(x_key), rows, lab.dims), tensor("dW", dw, grad(HEAD_W), lab.dims, cols)]
        if db is not None:
            grads[HEAD_B] = db
            outs.append(tensor("db", db, grad(HEAD_B), None, cols))
        w.step("bwd.head", "linear", "Through the output head", linear.GRAD_FORMULA,
               [dz_t, read, w.param("W", HEAD_W)], outs)
    if not pooled:
        return dx
    dh = pooling.backward(dx, c.pool)  # [T, D]
    w.step("bwd.pool", "pooling", "Through the pooling", pooling.GRAD_FORMULA,
           [w.dims("dpooled", dx, grad(POOLED))], [w.td("dh", dh, grad(c.h.key))],
           bindings={"pooling": c.pooling})
    return dh
