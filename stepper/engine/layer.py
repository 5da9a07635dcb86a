"""A transformer layer: sublayers, each wrapped in a residual connection and a LayerNorm.

Where the norm sits is the model's `norm`: `pre` normalises the sublayer's input (x + F(LN(x))),
`post` the sum (LN(x + F(x))), `none` neither. The encoder layer is self-attention then the FFN
(`model.ffn: false`: self-attention alone); another layer (a decoder's, with cross-attention) is
another list of sublayers. A sublayer without its residual (`model.residual`) has no skip path: its
output replaces the stream (pre: F(LN(x)), post: LN(F(x)), none: F(x)), and no residual step is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stepper.engine import attention, ffn
from stepper.engine import residual as residual_add
from stepper.engine.record import fmt_num
from stepper.engine.recorded import (
    Keyed,
    NormCache,
    Path,
    merge,
    norm_backward,
    norm_forward,
)
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace_keys import LayerKeys, grad, grad_through


@dataclass(frozen=True)
class Sublayer:
    """How the n-th sublayer of a layer reads in the trace (res{n}, ln{n})."""

    n: int
    out: str  # the sublayer's output in the residual step: "Attn", "F"
    forward_title: str
    backward_title: str
    merge_title: str
    # pre-norm, when the sublayer reads the norm's output more than once: the step that sums those reads
    fan_in_step: str = ""
    fan_in_title: str = ""


ATTENTION = Sublayer(1, "Attn", "Residual: x + attention", "Through attention residual", "Sum into the layer input",
                     "qkv.merge", "Sum the Q, K, V gradients")
FFN = Sublayer(2, "F", "Residual: x + FFN", "Through the FFN residual", "Sum: skip + FFN gradients")

# a block's forward (its input → its output and cache) and backward (dout, cache, grads, shared=… → the
# paths into its input; `shared`: whether the skip path reads that input too)
Forward = Callable[[Keyed], tuple[Keyed, object]]
Backward = Callable[..., list[Path]]


@dataclass
class SublayerCache:
    spec: Sublayer
    x: Keyed  # the stream the residual adds to
    out_key: str  # the block's output
    block: object  # the block's own cache
    block_backward: Backward
    pre_norm: NormCache | None
    post_norm: NormCache | None
    residual: bool = True  # False: the block's output replaced the stream, and nothing skipped past it


@dataclass
class LayerCache:
    keys: LayerKeys
    sublayers: list[SublayerCache]


class LayerNorms:
    """The model's norm placement, kind (LayerNorm, or BatchNorm over the non-<pad> `rows`) and ε, with
    each norm's recorded step."""

    def __init__(self, placement: str, eps: float, d_model: int, norm_type: str = "layer",
                 rows: np.ndarray | None = None):
        self.placement, self.eps, self.d_model = placement, eps, d_model
        self.norm_type, self.rows = norm_type, rows
        self.name = "BatchNorm" if norm_type == "batch" else "LayerNorm"

    def forward(self, w: StepWriter, keys: LayerKeys, n: int, x: Keyed) -> tuple[Keyed, NormCache]:
        return norm_forward(w, f"fwd.{keys.norm(n).out}", f"{self.name} {n}", x, keys.norm(n), self.eps,
                            layer=keys.index, bindings={"ε": fmt_num(self.eps), "d_model": str(self.d_model)},
                            norm_type=self.norm_type, rows=self.rows)

    def backward(self, w: StepWriter, n: int, dy: np.ndarray, c: NormCache, dx_key: str,
                 grads: dict[str, np.ndarray]) -> np.ndarray:
        return norm_backward(w, f"bwd.{c.keys.out}", f"Through {self.name} {n}", dy, c, dx_key, grads, self.eps)


def sublayer_forward(w: StepWriter, norms: LayerNorms, keys: LayerKeys, spec: Sublayer, x: Keyed,
                     block: Forward, block_backward: Backward, *, residual: bool = True) -> tuple[Keyed, SublayerCache]:
    """`residual`: whether the block's output is added to x (else it replaces the stream)."""
    pre = post = None
    a = x
    if norms.placement == "pre":
        a, pre = norms.forward(w, keys, spec.n, x)
    out, block_cache = block(a)
    r = out
    if residual:
        r = Keyed(residual_add.forward(x.value, out.value)[0], keys.residual(spec.n))  # [T, D]
        w.step(f"fwd.{r.key}", "residual", spec.forward_title, residual_add.FORMULA,
               [w.td("X", x.value, x.key), w.td(spec.out, out.value, out.key)], [w.td("R", r.value, r.key)],
               layer=keys.index)
    else:
        w.note(out.key, "(replaces the stream: no residual)")
    if norms.placement == "post":
        r, post = norms.forward(w, keys, spec.n, r)
    return r, SublayerCache(spec, x, out.key, block_cache, block_backward, pre, post, residual)


def sublayer_backward(w: StepWriter, norms: LayerNorms, keys: LayerKeys, dout: np.ndarray, c: SublayerCache,
                      grads: dict[str, np.ndarray]) -> np.ndarray:
    spec, x, res, i = c.spec, c.x, keys.residual(c.spec.n), keys.index
    if c.post_norm is not None:
        dout = norms.backward(w, spec.n, dout, c.post_norm, grad(res if c.residual else c.out_key), grads)
    if not c.residual:  # the block alone read x (or LN(x)): its paths are the whole gradient
        return _into_input(w, norms, keys, dout, c, grads, [])
    d_skip, d_block = residual_add.backward(dout, None)
    skip = Path("dX_skip", d_skip, grad_through(x.key, res))
    w.step(f"bwd.{res}", "residual", spec.backward_title, residual_add.GRAD_FORMULA, [w.td("dR", dout, grad(res))],
           [w.td(f"d{spec.out}", d_block, grad(c.out_key)), w.td(skip.symbol, skip.value, skip.key)], layer=i)
    return _into_input(w, norms, keys, d_block, c, grads, [skip])


def _into_input(w: StepWriter, norms: LayerNorms, keys: LayerKeys, d_block: np.ndarray, c: SublayerCache,
                grads: dict[str, np.ndarray], skip: list[Path]) -> np.ndarray:
    """The block's gradient back to the sublayer's input x (through the pre-norm, if any), added to the
    skip path's when there is one."""
    spec, x, i = c.spec, c.x, keys.index
    if c.pre_norm is None:  # the block read x itself, as the skip path (if any) does
        paths = c.block_backward(d_block, c.block, grads, shared=bool(skip))
    else:  # the block read LN(x), which nothing else reads
        ln = c.pre_norm.keys.out
        paths = c.block_backward(d_block, c.block, grads, shared=False)
        d_ln = (merge(w, f"bwd.{keys.at}.{spec.fan_in_step}", spec.fan_in_title, ln, paths, layer=i)
                if len(paths) > 1 else paths[0].value)
        into = grad_through(x.key, ln) if skip else grad(x.key)
        paths = [Path(f"dX_ln{spec.n}", norms.backward(w, spec.n, d_ln, c.pre_norm, into, grads), into)]
    if not skip and len(paths) > 1:  # the block read x several times (Q, K, V): their sum, without a skip path
        return merge(w, f"bwd.{keys.at}.{spec.fan_in_step}", spec.fan_in_title, x.key, paths, layer=i)
    if not skip:
        return paths[0].value
    return merge(w, f"bwd.{keys.residual(spec.n)}.merge", spec.merge_title, x.key, [*skip, *paths], layer=i)


def encoder_layer_forward(w: StepWriter, norms: LayerNorms, keys: LayerKeys, x: Keyed, ok: np.ndarray,
                          m: ModelConfig, mask_name: str) -> tuple[Keyed, LayerCache]:
    """Self-attention, then the FFN (unless `model.ffn` is false)."""
    def attend(a: Keyed):
        return attention.forward(w, keys.attn, a, a, ok, m, layer=keys.index, mask_name=mask_name)

    def feed_forward(a: Keyed):
        return ffn.forward(w, keys.ffn, a, m.activation, layer=keys.index)

    x, attn = sublayer_forward(w, norms, keys, ATTENTION, x, attend, functools.partial(attention.backward, w),
                               residual=m.keeps_residual("attention"))
    if not m.ffn:  # an attention-only block
        return x, LayerCache(keys, [attn])
    x, ff = sublayer_forward(w, norms, keys, FFN, x, feed_forward, functools.partial(ffn.backward, w),
                             residual=m.keeps_residual("ffn"))
    return x, LayerCache(keys, [attn, ff])


def layer_backward(w: StepWriter, norms: LayerNorms, dout: np.ndarray, c: LayerCache,
                   grads: dict[str, np.ndarray]) -> np.ndarray:
    for sub in reversed(c.sublayers):
        dout = sublayer_backward(w, norms, c.keys, dout, sub, grads)
    return dout
