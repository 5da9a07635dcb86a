"""The blocks of a batched transformer on whole batches at once: multi-head attention over
[B, H, T, d_k], the FFN and the norms on the flattened rows [B·T, D].

The same math as the recorded blocks (attention.py, ffn.py, layernorm.py, batchnorm.py) without the
steps: a training update needs only the numbers, and on tiny tensors the cost is the number of numpy
calls, so Q, K and V are one matmul and every head and example goes through each call together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import batched_gelu, batchnorm, dropout, layernorm


@dataclass
class Shape:
    b: int  # examples
    t: int  # positions (the longest example)
    h: int  # heads
    d_k: int


def _linear(x: np.ndarray, params: dict, weight: str, bias: str):
    y = x @ params[weight]
    b = params.get(bias)
    return y if b is None else y + b


def attention_forward(a: np.ndarray, params: dict, at: str, s: Shape, bias: np.ndarray, factor: float,
                      keep: np.ndarray | None, p: float):
    """a [N, D] → (out [N, D], cache). `bias` [B, 1, T, T] is 0 where a query may see a key, −∞ where not;
    `factor` scales the scores; `keep` [B, H, T, T] is the dropout mask on the weights, or None."""
    w_qkv = np.concatenate([params[f"{at}.W_Q"], params[f"{at}.W_K"], params[f"{at}.W_V"]], axis=1)  # [D, 3D]
    qkv = a @ w_qkv  # [N, 3D]
    if f"{at}.b_Q" in params:
        qkv += np.concatenate([params[f"{at}.b_Q"], params[f"{at}.b_K"], params[f"{at}.b_V"]])
    q, k, v = qkv.reshape(s.b, s.t, 3, s.h, s.d_k).transpose(2, 0, 3, 1, 4)  # [B, H, T, d_k] each
    qs = q * factor  # scaling Q scales the scores
    scores = qs @ k.swapaxes(-1, -2)  # [B, H, T, T]
    scores += bias
    scores -= scores.max(axis=-1, keepdims=True)
    e = np.exp(scores, out=scores)
    weights = e / e.sum(axis=-1, keepdims=True)  # [B, H, T, T] the softmax A
    used, drop = (weights, None) if keep is None else dropout.forward(weights, keep, p)  # [B, H, T, T]
    z = used @ v  # [B, H, T, d_k]
    concat = z.transpose(0, 2, 1, 3).reshape(s.b * s.t, s.h * s.d_k)  # [N, D]
    out = _linear(concat, params, f"{at}.W_O", f"{at}.b_O")  # [N, D]
    return out, (a, w_qkv, qs, k, v, weights, used, drop, concat)


def attention_backward(d_out: np.ndarray, cache, params: dict, at: str, s: Shape, factor: float,
                       grads: dict) -> np.ndarray:
    a, w_qkv, qs, k, v, weights, used, drop, concat = cache
    n, d = d_out.shape
    grads[f"{at}.W_O"] = concat.T @ d_out  # [D, D]
    if f"{at}.b_O" in params:
        grads[f"{at}.b_O"] = d_out.sum(axis=0)
    dz = (d_out @ params[f"{at}.W_O"].T).reshape(s.b, s.t, s.h, s.d_k).transpose(0, 2, 1, 3)  # [B, H, T, d_k]
    d_qkv = np.empty((s.b, s.t, 3, s.h, s.d_k))
    dq, dk, dv = d_qkv.transpose(2, 0, 3, 1, 4)  # views [B, H, T, d_k]
    dv[...] = used.swapaxes(-1, -2) @ dz
    d_used = dz @ v.swapaxes(-1, -2)  # [B, H, T, T]
    d_w = d_used if drop is None else dropout.backward(d_used, drop)
    d_s = weights * (d_w - (d_w * weights).sum(axis=-1, keepdims=True))  # softmax; masked entries get 0
    dq[...] = (d_s @ k) * factor
    dk[...] = d_s.swapaxes(-1, -2) @ qs
    d_qkv = d_qkv.reshape(n, 3 * d)  # [N, 3D]
    dw = a.T @ d_qkv  # [D, 3D]
    for i, which in enumerate("QKV"):
        grads[f"{at}.W_{which}"] = dw[:, i * d:(i + 1) * d]
    if f"{at}.b_Q" in params:
        db = d_qkv.sum(axis=0)  # [3D]
        for i, which in enumerate("QKV"):
            grads[f"{at}.b_{which}"] = db[i * d:(i + 1) * d]
    return d_qkv @ w_qkv.T  # [N, D]


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

