"""Attention's per-head steps: what the learner steps through, one head at a time.

Each is a view into the block's [H, …] arrays (attention.py), so recording costs no copies.
A per-head tensor is keyed by the whole quantity and indexed by its head: `(h,)` for an
[H, T, T] or [H, T, d_k] array, the head's columns for a [T, D] one (docs/trace-keys.md, Slices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from stepper.engine import attention_score_steps, heads, mask, softmax, weighted_sum
from stepper.engine.attention_scores import ScoreGrads
from stepper.engine.record import tensor
from stepper.engine.step_writer import StepWriter
from stepper.trace import Tensor
from stepper.trace_keys import grad

if TYPE_CHECKING:
    from stepper.engine.attention import AttentionCache


class HeadGrads(NamedTuple):
    d_concat: np.ndarray  # [T, D]
    dz: np.ndarray  # [H, T, d_k], and so on: each the gradient of the quantity it names
    d_a: np.ndarray
    d_v: np.ndarray
    d_s_masked: np.ndarray
    d_s: np.ndarray  # of the scaled scores (the raw ones when unscaled)
    scores: ScoreGrads  # on down to Q and K (through Q̂ and K̂ with cosine attention)


class _Head:
    """Tensor builders for head h: `tt` an [H, T_q, T_k] array's slice, `th` an [H, T, d_k] one's. Rows are
    the queries' tokens, columns the keys' (in cross-attention: target rows, source columns)."""

    def __init__(self, w: StepWriter, c: AttentionCache, h: int):
        self.h, self.rows, self.cols = h, w.lab.tokens, c.w_kv.lab.tokens
        self.dims, self.columns = w.lab.head_dims(h), heads.columns(h, c.m.d_k)
        self.step_at = f"{c.keys.at}.h{h}" if c.m.n_heads > 1 else c.keys.at
        self.where = {"layer": c.layer, "head": h}

    def tt(self, symbol: str, arr: np.ndarray, key: str) -> Tensor:
        return tensor(symbol, arr[self.h], key, self.rows, self.cols, (self.h,))

    def th(self, symbol: str, arr: np.ndarray, key: str) -> Tensor:
        # Q, K, V are [T, D] quantities (the head's columns); Z is [H, T, d_k] (the head's index)
        index = self.columns if key.endswith(("Q", "K", "V")) else (self.h,)
        return tensor(symbol, arr[self.h], key, self._rows(key), self.dims, index)

    def cut(self, symbol: str, full: np.ndarray, key: str) -> Tensor:
        """The head's columns of a [T, D] array."""
        return tensor(symbol, full[self.columns], key, self._rows(key), self.dims, self.columns)

    def _rows(self, key: str) -> list[str]:
        """K, K̂ and V (and their gradients) have a row per key token; the rest a row per query token."""
        return self.cols if key.endswith(("K", "K_hat", "V")) else self.rows


def record_forward(w: StepWriter, c: AttentionCache, full: dict[str, np.ndarray], mask_name: str) -> None:
    k, m = c.keys, c.m
    s_key, s_sym = (k.S, "S'") if m.attention_scale else (k.S_raw, "S")  # the scaled scores keep their prime
    additive = mask.additive(c.ok)  # [T, T] M, the one the mask step adds
    for h in range(m.n_heads):
        hd = _Head(w, c, h)
        tt, at = hd.tt, f"fwd.{hd.step_at}"
        attention_score_steps.record_forward(w, c, hd, full, at)
        w.step(f"{at}.mask", "mask", "Mask: −∞ where not allowed", mask.FORMULA,
               [tt(s_sym, c.scored.s, s_key), tensor("M", additive, None, hd.rows, hd.cols)],
               [tt("S_masked", c.s_masked, k.S_masked)], **hd.where, bindings={"mask": mask_name})
        w.step(f"{at}.softmax", "softmax", "Softmax over each row", softmax.FORMULA,
               [tt("S_masked", c.s_masked, k.S_masked)], [tt("A", c.a, k.A)], **hd.where)
        w.step(f"{at}.values", "weighted_sum", "Weighted sum of values A·V", weighted_sum.FORMULA,
               [tt("A", c.a, k.A), hd.cut("V", full["V"], k.V)],
               [tensor("Z", c.z[h], k.Z, hd.rows, hd.dims, (h,))], **hd.where)


def record_backward(w: StepWriter, c: AttentionCache, g: HeadGrads) -> None:
    k, m = c.keys, c.m
    s_key, ds_sym = (k.S, "dS'") if m.attention_scale else (k.S_raw, "dS")
    for h in range(m.n_heads):
        hd = _Head(w, c, h)
        tt, th, at = hd.tt, hd.th, f"bwd.{hd.step_at}"
        # with one head, dZ is W_O's own output dConcat: named so, it says where it came from
        dz = th("dZ", g.dz, grad(k.Z)) if m.n_heads > 1 else w.td("dZ", g.d_concat, grad(k.concat))
        w.step(f"{at}.values", "weighted_sum", "Through A·V", weighted_sum.GRAD_FORMULA,
               [dz, tt("A", c.a, k.A), th("V", c.v, k.V)],
               [tt("dA", g.d_a, grad(k.A)), th("dV", g.d_v, grad(k.V))], **hd.where)
        w.step(f"{at}.softmax", "softmax", "Through the softmax", softmax.GRAD_FORMULA,
               [tt("dA", g.d_a, grad(k.A)), tt("A", c.a, k.A)],
               [tt("dS_masked", g.d_s_masked, grad(k.S_masked))], **hd.where)
        w.step(f"{at}.mask", "mask", "Through the mask", mask.GRAD_FORMULA,
               [tt("dS_masked", g.d_s_masked, grad(k.S_masked))], [tt(ds_sym, g.d_s, grad(s_key))], **hd.where)
        attention_score_steps.record_backward(w, c, hd, g, at)
