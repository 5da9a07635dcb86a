"""The recorded steps of one head's scores: Q·Kᵀ then ÷ √d_k, or with `attention: cosine` the queries'
and keys' rows normalised, their cosines Q̂·K̂ᵀ, then ÷ τ; and the same steps back.

Called by attention_heads.py for each head, with its tensor builders (`hd`); the numbers come from
attention_scores.py, computed once for all heads.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from stepper.engine import cosine_scores, scale, scores, temperature, unit_rows
from stepper.engine.record import fmt_num
from stepper.engine.step_writer import StepWriter
from stepper.trace_keys import grad

if TYPE_CHECKING:
    from stepper.engine.attention import AttentionCache
    from stepper.engine.attention_heads import HeadGrads, _Head

EPS = {"ε": f"{unit_rows.EPS:g}"}  # 1e-12 as written: fmt_num would call a number this small round-off


def record_forward(w: StepWriter, c: AttentionCache, hd: _Head, full: dict[str, np.ndarray], at: str) -> None:
    k, m, sc, tt, th = c.keys, c.m, c.scored, hd.tt, hd.th
    q, key = hd.cut("Q", full["Q"], k.Q), hd.cut("K", full["K"], k.K)
    if not sc.cosine:
        w.step(f"{at}.scores", "scores", "Scores Q·Kᵀ", scores.FORMULA, [q, key], [tt("S", sc.s_raw, k.S_raw)],
               **hd.where, bindings={"d_k": str(m.d_k)})
        if m.attention_scale:
            w.step(f"{at}.scale", "scale", "Scale by 1/√d_k", scale.FORMULA, [tt("S", sc.s_raw, k.S_raw)],
                   [tt("S'", sc.s, k.S)], **hd.where,
                   bindings={"d_k": str(m.d_k), "√d_k": fmt_num(math.sqrt(m.d_k))})
        return
    q_hat, k_hat = th("Q̂", sc.q_hat, k.Q_hat), th("K̂", sc.k_hat, k.K_hat)
    w.step(f"{at}.normalize_q", "normalize", "Normalise Q rows", unit_rows.FORMULA, [q], [q_hat], **hd.where,
           bindings=EPS)
    w.step(f"{at}.normalize_k", "normalize", "Normalise K rows", unit_rows.FORMULA, [key], [k_hat], **hd.where,
           bindings=EPS)
    w.step(f"{at}.scores", "cosine_scores", "Cosine scores Q̂·K̂ᵀ", cosine_scores.FORMULA,
           [th("Q̂", sc.q_hat, k.Q_hat), th("K̂", sc.k_hat, k.K_hat)], [tt("S", sc.s_raw, k.S_raw)],
           **hd.where, bindings={"d_k": str(m.d_k)})
    w.step(f"{at}.scale", "temperature", "Divide by τ", temperature.FORMULA, [tt("S", sc.s_raw, k.S_raw)],
           [tt("S'", sc.s, k.S)], **hd.where, bindings={"τ": fmt_num(m.attention_temperature)})


def record_backward(w: StepWriter, c: AttentionCache, hd: _Head, g: HeadGrads, at: str) -> None:
    k, m, sc, d, tt, th = c.keys, c.m, c.scored, g.scores, hd.tt, hd.th
    if not sc.cosine:
        if m.attention_scale:
            w.step(f"{at}.scale", "scale", "Through the 1/√d_k scale", scale.GRAD_FORMULA,
                   [tt("dS'", g.d_s, grad(k.S))], [tt("dS", d.d_s_raw, grad(k.S_raw))],
                   bindings={"√d_k": fmt_num(np.sqrt(m.d_k))}, **hd.where)
        w.step(f"{at}.scores", "scores", "Through Q·Kᵀ", scores.GRAD_FORMULA,
               [tt("dS", d.d_s_raw, grad(k.S_raw)), th("Q", c.q, k.Q), th("K", c.k, k.K)],
               [th("dQ", d.d_q, grad(k.Q)), th("dK", d.d_k, grad(k.K))], **hd.where)
        return
    w.step(f"{at}.scale", "temperature", "Through ÷ τ", temperature.GRAD_FORMULA, [tt("dS'", g.d_s, grad(k.S))],
           [tt("dS", d.d_s_raw, grad(k.S_raw))], bindings={"τ": fmt_num(m.attention_temperature)}, **hd.where)
    w.step(f"{at}.scores", "cosine_scores", "Through Q̂·K̂ᵀ", cosine_scores.GRAD_FORMULA,
           [tt("dS", d.d_s_raw, grad(k.S_raw)), th("Q̂", sc.q_hat, k.Q_hat), th("K̂", sc.k_hat, k.K_hat)],
           [th("dQ̂", d.d_q_hat, grad(k.Q_hat)), th("dK̂", d.d_k_hat, grad(k.K_hat))], **hd.where)
    for name, x, unit, d_unit, dx in (("K", c.k, sc.k_hat, d.d_k_hat, d.d_k), ("Q", c.q, sc.q_hat, d.d_q_hat, d.d_q)):
        key, key_hat = getattr(k, name), getattr(k, f"{name}_hat")
        w.step(f"{at}.normalize_{name.lower()}", "normalize", f"Through the {name} normalisation",
               unit_rows.GRAD_FORMULA,
               [th(f"d{name}̂", d_unit, grad(key_hat)), th(f"{name}̂", unit, key_hat), th(name, x, key)],
               [th(f"d{name}", dx, grad(key))], **hd.where)
