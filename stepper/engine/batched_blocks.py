"""The blocks of a batched transformer on whole batches at once: multi-head attention over
[B, H, T, d_k], the FFN and the norms on the flattened rows [B·T, D].

The same math as the recorded blocks (attention.py, ffn.py, layernorm.py, batchnorm.py) without the
steps: a training update needs only the numbers, and on tiny tensors the cost is the number of numpy
calls, so Q, K and V are one matmul and every head and example goes through each call together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import batched_gelu, batchnorm, dropout, layernorm, unit_rows


@dataclass
class Shape:
    b: int  # examples
    t: int  # positions (the longest example); of the queries in cross-attention
    h: int  # heads
    d_k: int
    t_k: int = 0  # cross-attention: the positions of its keys and values (the memory's); 0 = t


def _linear(x: np.ndarray, params: dict, weight: str, bias: str):
    y = x @ params[weight]
    b = params.get(bias)
    return y if b is None else y + b


def _stacked(params: dict, at: str, which: str):
    """W and b of several projections side by side ([D, nD], [nD] or None): one matmul for all of them."""
    w = np.concatenate([params[f"{at}.W_{m}"] for m in which], axis=1)
    b = np.concatenate([params[f"{at}.b_{m}"] for m in which]) if f"{at}.b_{which[0]}" in params else None
    return w, b


def _attend(q, k, v, bias: np.ndarray, factor: float, keep: np.ndarray | None, p: float, s: Shape):
    """Heads [B, H, T_q, d_k] / [B, H, T_k, d_k] → the weighted values, concatenated [B·T_q, D], and the cache."""
    qs = q * factor  # scaling Q scales the scores
    scores = qs @ k.swapaxes(-1, -2)  # [B, H, T_q, T_k]
    scores += bias
    scores -= scores.max(axis=-1, keepdims=True)
    e = np.exp(scores, out=scores)
    weights = e / e.sum(axis=-1, keepdims=True)  # [B, H, T_q, T_k] the softmax A
    used, drop = (weights, None) if keep is None else dropout.forward(weights, keep, p)
    z = used @ v  # [B, H, T_q, d_k]
    return z.transpose(0, 2, 1, 3).reshape(s.b * s.t, s.h * s.d_k), (qs, k, v, weights, used, drop)


def _attend_backward(d_concat: np.ndarray, core, factor: float, s: Shape):
    """d of the concatenated heads [B·T_q, D] → (dq, dk, dv) per head."""
    qs, k, v, weights, used, drop = core
    dz = d_concat.reshape(s.b, s.t, s.h, s.d_k).transpose(0, 2, 1, 3)  # [B, H, T_q, d_k]
    dv = used.swapaxes(-1, -2) @ dz
    d_used = dz @ v.swapaxes(-1, -2)  # [B, H, T_q, T_k]
    d_w = d_used if drop is None else dropout.backward(d_used, drop)
    d_s = weights * (d_w - (d_w * weights).sum(axis=-1, keepdims=True))  # softmax; masked entries get 0
    return (d_s @ k) * factor, d_s.swapaxes(-1, -2) @ qs, dv


def _output_backward(d_out: np.ndarray, concat: np.ndarray, params: dict, at: str, grads: dict) -> np.ndarray:
    grads[f"{at}.W_O"] = concat.T @ d_out  # [D, D]
    if f"{at}.b_O" in params:
        grads[f"{at}.b_O"] = d_out.sum(axis=0)
    return d_out @ params[f"{at}.W_O"].T  # [N, D]


def _projections_backward(x: np.ndarray, d_heads: list, w: np.ndarray, params: dict, at: str, which: str,
                          s: Shape, grads: dict) -> np.ndarray:
    """The gradients of the projections `which` of `x` (stacked as `w`) from their heads' gradients; dx."""
    d = np.concatenate([g.transpose(0, 2, 1, 3).reshape(x.shape[0], s.h * s.d_k) for g in d_heads], axis=1)
    dw = x.T @ d  # [D, nD]
    width = s.h * s.d_k
    for i, m in enumerate(which):
        grads[f"{at}.W_{m}"] = dw[:, i * width:(i + 1) * width]
    if f"{at}.b_{which[0]}" in params:
        db = d.sum(axis=0)
        for i, m in enumerate(which):
            grads[f"{at}.b_{m}"] = db[i * width:(i + 1) * width]
    return d @ w.T


def attention_forward(a: np.ndarray, params: dict, at: str, s: Shape, bias: np.ndarray, factor: float,
                      keep: np.ndarray | None, p: float, *, cosine: bool = False):
    """Self-attention: a [N, D] → (out [N, D], cache). `bias` [B, 1, T, T] is 0 where a query may see a key,
    −∞ where not; `factor` scales the scores; `keep` [B, H, T, T] is the dropout mask on the weights, or None.
    `cosine`: the query and key rows are first scaled to length 1 (and `factor` is 1/τ)."""
    w_qkv, b_qkv = _stacked(params, at, "QKV")  # [D, 3D]
    qkv = a @ w_qkv  # [N, 3D]
    if b_qkv is not None:
        qkv += b_qkv
    q, k, v = qkv.reshape(s.b, s.t, 3, s.h, s.d_k).transpose(2, 0, 3, 1, 4)  # [B, H, T, d_k] each
    units = None
    if cosine:
        (q, q_unit), (k, k_unit) = unit_rows.forward(q), unit_rows.forward(k)  # [B, H, T, d_k] each
        units = q_unit, k_unit
    concat, core = _attend(q, k, v, bias, factor, keep, p, s)
    return _linear(concat, params, f"{at}.W_O", f"{at}.b_O"), (a, w_qkv, concat, core, units)


def attention_backward(d_out: np.ndarray, cache, params: dict, at: str, s: Shape, factor: float,
                       grads: dict) -> np.ndarray:
    a, w_qkv, concat, core, units = cache
    d_heads = _attend_backward(_output_backward(d_out, concat, params, at, grads), core, factor, s)
    if units is not None:  # back through the normalisations of Q and K
        d_heads = (unit_rows.backward(d_heads[0], units[0]), unit_rows.backward(d_heads[1], units[1]), d_heads[2])
    return _projections_backward(a, list(d_heads), w_qkv, params, at, "QKV", s, grads)  # [N, D]


def cross_attention_forward(a: np.ndarray, memory: np.ndarray, params: dict, at: str, s: Shape,
                            bias: np.ndarray, factor: float, keep: np.ndarray | None, p: float):
    """Cross-attention, the same block fed from two streams: queries from `a` [B·T, D] (the decoder's),
    keys and values from `memory` [B·T_k, D] (the encoder's output). `bias` [B, 1, 1, T_k]: −∞ at the
    memory's <pad> keys; `keep` [B, H, T, T_k]."""
    q = _linear(a, params, f"{at}.W_Q", f"{at}.b_Q").reshape(s.b, s.t, s.h, s.d_k).transpose(0, 2, 1, 3)
    w_kv, b_kv = _stacked(params, at, "KV")  # [D, 2D]
    kv = memory @ w_kv
    if b_kv is not None:
        kv += b_kv
    k, v = kv.reshape(s.b, s.t_k, 2, s.h, s.d_k).transpose(2, 0, 3, 1, 4)  # [B, H, T_k, d_k] each
    concat, core = _attend(q, k, v, bias, factor, keep, p, s)
    return _linear(concat, params, f"{at}.W_O", f"{at}.b_O"), (a, memory, w_kv, concat, core)


def cross_attention_backward(d_out: np.ndarray, cache, params: dict, at: str, s: Shape, factor: float,
                             grads: dict) -> tuple[np.ndarray, np.ndarray]:
    """(the decoder stream's gradient [B·T, D], the memory's part [B·T_k, D])."""
    a, memory, w_kv, concat, core = cache
    dq, dk, dv = _attend_backward(_output_backward(d_out, concat, params, at, grads), core, factor, s)
    d_memory = _projections_backward(memory, [dk, dv], w_kv, params, at, "KV", s, grads)
    w_q = params[f"{at}.W_Q"]
    return _projections_backward(a, [dq], w_q, params, at, "Q", s, grads), d_memory


def ffn_forward(a: np.ndarray, params: dict, at: str, kind: str):
    h = _linear(a, params, f"{at}.W_1", f"{at}.b_1")  # [N, F]
    g, act = batched_gelu.forward(h, kind)  # [N, F]
    return _linear(g, params, f"{at}.W_2", f"{at}.b_2"), (a, g, act)  # [N, D]


def ffn_backward(d_out: np.ndarray, cache, params: dict, at: str, grads: dict) -> np.ndarray:
    a, g, act = cache
    grads[f"{at}.W_2"] = g.T @ d_out  # [F, D]
    dh = batched_gelu.backward(d_out @ params[f"{at}.W_2"].T, act)  # [N, F]
    grads[f"{at}.W_1"] = a.T @ dh  # [D, F]
    if f"{at}.b_2" in params:
        grads[f"{at}.b_2"] = d_out.sum(axis=0)
    if f"{at}.b_1" in params:
        grads[f"{at}.b_1"] = dh.sum(axis=0)
    return dh @ params[f"{at}.W_1"].T  # [N, D]


class Norms:
    """ln1 / ln2 / ln_f as LayerNorm or BatchNorm; BatchNorm counts the `rows` (not <pad>) and, in
    training, leaves each norm's new running statistics in `running`; in evaluation it reads them."""

    def __init__(self, norm_type: str, eps: float, rows: np.ndarray | None, running: dict | None, train: bool):
        self.batch, self.eps, self.rows, self.train = norm_type == "batch", eps, rows, train
        self.running = dict(running) if running is not None else {}

    def forward(self, x: np.ndarray, params: dict, at: str):
        gamma, beta = params[f"{at}.gamma"], params[f"{at}.beta"]
        if not self.batch:
            return layernorm.forward(x, gamma, beta, self.eps)
        stats = self.running.get(at) or batchnorm.initial(x.shape[1])
        if not self.train:
            return batchnorm.evaluate(x, gamma, beta, self.eps, stats), None
        y, cache = batchnorm.forward(x, gamma, beta, self.eps, self.rows)
        self.running[at] = batchnorm.running(stats, cache)
        return y, cache

    def backward(self, dy: np.ndarray, cache, at: str, grads: dict) -> np.ndarray:
        dx, grads[f"{at}.gamma"], grads[f"{at}.beta"] = (batchnorm if self.batch else layernorm).backward(dy, cache)
        return dx

