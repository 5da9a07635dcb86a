"""The pieces every block is built from, each a recorded step: a linear map, a LayerNorm, and the
merge that adds the gradients reaching one array along several paths.

A forward piece returns its output and what its backward needs, the input as it was recorded
included; so a backward piece needs only the upstream gradient and where its own goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from stepper.engine import batchnorm, layernorm, linear, residual
from stepper.engine.record import fmt_num, tensor
from stepper.engine.step_writer import StepWriter
from stepper.trace import Tensor
from stepper.trace_keys import NormKeys, ProjectionKeys, grad


class Keyed(NamedTuple):
    """An activation and its trace key: what flows from one block to the next."""

    value: np.ndarray
    key: str


@dataclass
class LinearCache:
    x: Tensor  # the input as the forward step showed it (symbol, labels, slice)
    weight: str
    bias: str | None
    which: str  # the subscript of W and b: "Q", "O", "1", …
    numbers: tuple  # linear.forward's cache
    layer: int | None


def linear_forward(w: StepWriter, step_id: str, title: str, x: Tensor, params: ProjectionKeys, which: str,
                   out: str, out_key: str, label: Callable[..., Tensor], *, layer: int | None = None,
                   bindings: dict[str, str] | None = None) -> tuple[np.ndarray, LinearCache]:
    """Y = X·W_which + b_which, shown as the tensor `label(out, Y, out_key)`."""
    weight, bias = params.weight(which), params.bias(which)
    bias = bias if bias in w.params else None
    y, numbers = linear.forward(x.value, w.params[weight], w.params[bias] if bias else None)
    inputs = [_copy(x), w.param(f"W_{which}", weight)] + ([w.param(f"b_{which}", bias)] if bias else [])
    w.step(step_id, "linear", title, linear.FORMULA, inputs, [label(out, y, out_key)], layer=layer,
           bindings=bindings)
    return y, LinearCache(x, weight, bias, which, numbers, layer)


def linear_backward(w: StepWriter, step_id: str, title: str, dy: Tensor, c: LinearCache, dx_key: str,
                    grads: dict[str, np.ndarray], *, x_symbol: str | None = None) -> np.ndarray:
    """dW = Xᵀ·dY, db = Σ dY, dX = dY·Wᵀ; the parameter gradients go into `grads`. `x_symbol` renames
    the input in this step (and its gradient d…)."""
    dx, dw, db = linear.backward(dy.value, c.numbers)
    which = c.which
    x = c.x if x_symbol is None else tensor(x_symbol, c.x.value, c.x.key, c.x.rows, c.x.cols, c.x.index)
    grads[c.weight] = dw
    outs = [tensor(f"dW_{which}", dw, grad(c.weight), x.cols, dy.cols)]
    if db is not None:
        grads[c.bias] = db
        outs.append(tensor(f"db_{which}", db, grad(c.bias), None, dy.cols))
    outs.append(tensor(f"d{x.symbol}", dx, dx_key, x.rows, x.cols))
    w.step(step_id, "linear", title, linear.GRAD_FORMULA, [dy, _copy(x), w.param(f"W_{which}", c.weight)], outs,
           layer=c.layer)
    return dx


@dataclass
class NormCache:
    keys: NormKeys
    x: Keyed
    numbers: tuple  # layernorm.forward's (or batchnorm.forward's) cache
    layer: int | None
    norm_type: str = "layer"  # layer | batch


def norm_forward(w: StepWriter, step_id: str, title: str, x: Keyed, keys: NormKeys, eps: float, *,
                 layer: int | None = None, bindings: dict[str, str], norm_type: str = "layer",
                 rows: np.ndarray | None = None) -> tuple[Keyed, NormCache]:
    """LayerNorm (each row over its features), or with norm_type batch BatchNorm in training mode: each
    feature over the `rows` [T] that are not <pad> — one example is the whole batch here."""
    gamma, beta = w.params[keys.gamma], w.params[keys.beta]
    if norm_type == "batch":
        y, numbers = batchnorm.forward(x.value, gamma, beta, eps, rows)  # [T, D]
    else:
        y, numbers = layernorm.forward(x.value, gamma, beta, eps)  # [T, D]
    stage = batchnorm if norm_type == "batch" else layernorm
    w.step(step_id, stage.__name__.rsplit(".", 1)[-1], title, stage.FORMULA,
           [w.td("x", x.value, x.key), w.param("γ", keys.gamma), w.param("β", keys.beta)],
           [w.td("y", y, keys.out)], layer=layer, bindings=bindings)
    return Keyed(y, keys.out), NormCache(keys, x, numbers, layer, norm_type)


def norm_backward(w: StepWriter, step_id: str, title: str, dy: np.ndarray, c: NormCache, dx_key: str,
                  grads: dict[str, np.ndarray], eps: float) -> np.ndarray:
    stage = batchnorm if c.norm_type == "batch" else layernorm
    dx, dg, db = stage.backward(dy, c.numbers)  # [T, D], [D], [D]
    k = c.keys
    grads[k.gamma], grads[k.beta] = dg, db
    w.step(step_id, stage.__name__.rsplit(".", 1)[-1], title, stage.GRAD_FORMULA,
           [w.td("dy", dy, grad(k.out)), w.td("x", c.x.value, c.x.key), w.param("γ", k.gamma)],
           [w.td("dx", dx, dx_key), w.dims("dγ", dg, grad(k.gamma)), w.dims("dβ", db, grad(k.beta))],
           layer=c.layer, bindings={"ε": fmt_num(eps)})
    return dx


class Path(NamedTuple):
    """One path's gradient into an array: `symbol` names it in the merge, `key` is d:IN<-OUT."""

    symbol: str
    value: np.ndarray
    key: str


def merge(w: StepWriter, step_id: str, title: str, key: str, paths: list[Path], *, layer: int | None) -> np.ndarray:
    """dX = the sum over every path from X: what the residual connection's skip path relies on."""
    total = sum(p.value for p in paths)  # [T, D]
    w.step(step_id, "merge", title, residual.MERGE_FORMULA, [w.td(p.symbol, p.value, p.key) for p in paths],
           [w.td("dX", total, grad(key))], layer=layer, bindings={"paths": " + ".join(p.symbol for p in paths)})
    return total


def _copy(t: Tensor) -> Tensor:
    """A step's own tensor for an array another step shows too."""
    return tensor(t.symbol, t.value, t.key, t.rows, t.cols, t.index, t.is_param)
