"""The position-wise feed-forward block: expand with W_1, the non-linearity, project back with W_2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import activation
from stepper.engine.recorded import Keyed, LinearCache, Path, linear_backward, linear_forward
from stepper.engine.step_writer import StepWriter
from stepper.trace_keys import FFNKeys, grad, grad_into


@dataclass
class FFNCache:
    keys: FFNKeys
    layer: int
    x: Keyed
    up: LinearCache
    h: np.ndarray  # [T, F] X·W_1 + b_1
    act: tuple  # activation.forward's cache
    kind: str  # the activation
    down: LinearCache


def forward(w: StepWriter, keys: FFNKeys, x: Keyed, kind: str, *, layer: int) -> tuple[Keyed, FFNCache]:
    at, lab = keys.at, w.lab
    h, up = linear_forward(w, f"fwd.{at}.up", "FFN: expand with W_1", w.td("X", x.value, x.key), keys, "1", "H",
                           keys.H, w.tf, layer=layer,
                           bindings={"d_model": str(len(lab.dims)), "d_ff": str(len(lab.ff))})  # [T, F]
    g, act = activation.forward(h, kind)  # [T, F]
    w.step(f"fwd.{at}.act", "activation", f"FFN: {kind}", activation.FORMULAS[kind], [w.tf("H", h, keys.H)],
           [w.tf("G", g, keys.G)], layer=layer)
    out, down = linear_forward(w, f"fwd.{at}.down", "FFN: project back with W_2", w.tf("G", g, keys.G), keys, "2",
                               "F", keys.out, w.td, layer=layer)  # [T, D]
    return Keyed(out, keys.out), FFNCache(keys, layer, x, up, h, act, kind, down)


def backward(w: StepWriter, d_out: np.ndarray, c: FFNCache, grads: dict[str, np.ndarray], *,
             shared: bool) -> list[Path]:
    """The input's gradient, as a part (d:X<-H) when others read X too (`shared`), else whole."""
    keys, at = c.keys, c.keys.at
    dg = linear_backward(w, f"bwd.{at}.down", "Through W_2", w.td("dF", d_out, grad(keys.out)), c.down,
                         grad(keys.G), grads, x_symbol="X")  # [T, F]; the step has always called G "X"
    dh = activation.backward(dg, c.act)  # [T, F]
    w.step(f"bwd.{at}.act", "activation", f"Through the {c.kind}", activation.GRAD_FORMULAS[c.kind],
           [w.tf("dG", dg, grad(keys.G)), w.tf("H", c.h, keys.H)], [w.tf("dH", dh, grad(keys.H))], layer=c.layer)
    into = grad_into(c.x.key, keys.H, shared)
    dx = linear_backward(w, f"bwd.{at}.up", "Through W_1", w.tf("dH", dh, grad(keys.H)), c.up, into, grads)
    return [Path("dX_ffn", dx, into)]
