"""Multi-head attention as one block: project, score, scale, mask, softmax, mix the values, concat, W_O.

Queries are read from `x_q`, keys and values from `x_kv`: the same stream for self-attention,
the decoder's and the encoder's streams for cross-attention. All heads are computed at once
([H, T, T] arrays); the per-head steps (attention_heads.py) are views into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import attention_heads, attention_scores, heads, mask, softmax, weighted_sum
from stepper.engine.record import tensor
from stepper.engine.recorded import Keyed, LinearCache, Path, linear_backward, linear_forward
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace_keys import AttentionKeys, grad, grad_into


@dataclass
class AttentionCache:
    keys: AttentionKeys
    layer: int
    x_q: Keyed
    x_kv: Keyed
    linears: dict[str, LinearCache]  # Q, K, V, O
    q: np.ndarray  # [H, T, d_k], and k, v alike
    k: np.ndarray
    v: np.ndarray
    scored: attention_scores.Scored  # Q·Kᵀ (or the cosines Q̂·K̂ᵀ) [H, T, T], and scaled
    s_masked: np.ndarray  # [H, T, T]
    a: np.ndarray  # [H, T, T] the weights
    z: np.ndarray  # [H, T, d_k]
    ok: np.ndarray  # [T, T] may query i see key j
    m: ModelConfig
    w_kv: StepWriter  # labels the key/value stream's rows (its own tokens in cross-attention)


def forward(w: StepWriter, keys: AttentionKeys, x_q: Keyed, x_kv: Keyed, ok: np.ndarray, m: ModelConfig, *,
            layer: int, mask_name: str, w_kv: StepWriter | None = None) -> tuple[Keyed, AttentionCache]:
    """`w_kv` writes the key/value stream's rows (cross-attention: the source tokens); default `w`'s."""
    at, linears, full = keys.at, {}, {}
    w_kv = w if w_kv is None else w_kv
    for mat in "QKV":
        src, wm = (x_q, w) if mat == "Q" else (x_kv, w_kv)
        full[mat], linears[mat] = linear_forward(
            w, f"fwd.{at}.{mat.lower()}", f"{mat} projection", wm.td("X", src.value, src.key), keys, mat, mat,
            getattr(keys, mat), wm.td, layer=layer, bindings={"d_model": str(m.d_model)})  # [T, D]
    q, k, v = (heads.split(full[n], m.n_heads) for n in "QKV")  # [H, T, d_k] each
    scored = attention_scores.forward(q, k, m)  # [H, T, T]
    s_masked, _ = mask.forward(scored.s, ok)  # [H, T, T]
    a, _ = softmax.forward(s_masked)  # [H, T, T]
    z, _ = weighted_sum.forward(a, v)  # [H, T, d_k]
    c = AttentionCache(keys, layer, x_q, x_kv, linears, q, k, v, scored, s_masked, a, z, ok, m, w_kv)
    if w.recording:
        attention_heads.record_forward(w, c, full, mask_name)
    concat = heads.concat(z)  # [T, D]
    if m.n_heads > 1:
        w.step(f"fwd.{at}.concat", "heads", "Concatenate the heads", heads.CONCAT_FORMULA, [tensor("Z", z, keys.Z)],
               [w.td("Concat", concat, keys.concat)], layer=layer,
               bindings={"H": str(m.n_heads), "d_k": str(m.d_k)})
    out, linears["O"] = linear_forward(w, f"fwd.{at}.out", "Output projection W_O", concat_input(w, c, concat),
                                       keys, "O", "O", keys.out, w.td, layer=layer)  # [T, D]
    return Keyed(out, keys.out), c


def concat_input(w: StepWriter, c: AttentionCache, concat: np.ndarray):
    """What W_O reads: the concat step's output, or with one head simply that head's Z (there is no
    concat step), so that "from step N" names the step that made it."""
    if c.m.n_heads > 1:
        return w.td("Concat", concat, c.keys.concat)
    return w.td("Z", concat, c.keys.Z, (0,))


def backward(w: StepWriter, d_out: np.ndarray, c: AttentionCache, grads: dict[str, np.ndarray], *,
             shared: bool) -> list[Path]:
    """The gradient of each input, one path per projection (Q, K, V). `shared`: whether something outside
    the block reads its inputs too. An input read more than once gets its gradient as parts (d:IN<-OUT),
    for a merge step to add; K and V both read x_kv, and in self-attention Q reads it as well."""
    keys, m, at = c.keys, c.m, c.keys.at
    q_shared, kv_shared = shared or c.x_q.key == c.x_kv.key, True
    d_concat = linear_backward(w, f"bwd.{at}.out", "Through W_O", w.td("dO", d_out, grad(keys.out)),
                               c.linears["O"], grad(keys.concat), grads)  # [T, D]
    dz = heads.split(d_concat, m.n_heads)  # [H, T, d_k]
    if m.n_heads > 1:
        w.step(f"bwd.{at}.concat", "heads", "Split back to the heads", heads.CONCAT_GRAD_FORMULA,
               [w.td("dConcat", d_concat, grad(keys.concat))], [tensor("dZ", dz, grad(keys.Z))], layer=c.layer)
    d_a, d_v = weighted_sum.backward(dz, (c.a, c.v))  # [H, T, T], [H, T, d_k]
    d_sm = softmax.backward(d_a, c.a)  # [H, T, T]
    d_s = mask.backward(d_sm, c.ok)  # [H, T, T]
    d_scores = attention_scores.backward(d_s, c.scored, c.q, c.k)  # [H, T, T]; [H, T, d_k] each
    d_q, d_k = d_scores.d_q, d_scores.d_k
    if w.recording:
        attention_heads.record_backward(w, c, attention_heads.HeadGrads(d_concat, dz, d_a, d_v, d_sm, d_s, d_scores))
    paths = []
    for mat, d_heads in (("V", d_v), ("K", d_k), ("Q", d_q)):
        src, src_shared, wm = (c.x_q, q_shared, w) if mat == "Q" else (c.x_kv, kv_shared, c.w_kv)
        d_full = heads.concat(d_heads)  # [T, D]
        into = grad_into(src.key, getattr(keys, mat), src_shared)
        dx = linear_backward(w, f"bwd.{at}.{mat.lower()}", f"Through W_{mat}",
                             wm.td(f"d{mat}", d_full, grad(getattr(keys, mat))), c.linears[mat], into, grads)
        paths.append(Path(f"dX_{mat}", dx, into))
    return paths[::-1]
