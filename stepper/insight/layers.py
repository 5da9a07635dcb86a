"""How far each layer moves each token's vector, read from a trace's forward steps.

For layer i and token t, with x the vector entering the layer (input `X` of `fwd.L{i}.res1`: the
embeddings for layer 0, else the previous layer's output) and y the vector leaving it:

    ratio[t] = ‖y_t − x_t‖ / ‖x_t‖

y is the output of the layer's last step: `fwd.L{i}.res2` (R) with pre-norm or no norm, `fwd.L{i}.ln2`
(y) with post-norm, where the stream itself passes through the LayerNorm (so the ratio there also
counts the rescaling). Each sublayer alone: `attn[t]` = ‖Attn_t‖ / ‖X_t‖ at `res1` and `ffn[t]` =
‖F_t‖ / ‖X_t‖ at `res2`: what it adds over what it is added to. A ratio near 0: the token passes
the layer almost unchanged; near 1 or more: the layer rewrites it. Compare a trace before training
with the trace after (`before_after.trained_scenario`) to see what training changed.
"""

from __future__ import annotations

import numpy as np

from stepper.insight.types import LayerWork
from stepper.scenario.types import SUBLAYERS
from stepper.trace import Trace


def layer_work(trace: Trace) -> list[LayerWork]:
    """Per layer, the ratios of every token of the traced example; empty for an mlp, and for a seq2seq
    (its two stacks' steps are `fwd.enc.L{i}…` / `fwd.dec.L{i}…`, not one stack's `fwd.L{i}…`), and for
    a block without both residual adds (`model.residual`, `model.ffn`): a sublayer that replaces the
    stream adds nothing to anything, so there is no "what it adds" to measure."""
    model = trace.config.get("model") or {}
    if model.get("kind") in ("mlp", "seq2seq"):
        return []
    if not model.get("ffn", True) or set(model.get("residual", SUBLAYERS)) != set(SUBLAYERS):
        return []
    steps = {s.id: s for s in trace.steps if s.phase == "forward"}
    out = []
    for i in range(int(model.get("n_layers", 0))):
        res1, res2 = steps[f"fwd.L{i}.res1"], steps[f"fwd.L{i}.res2"]
        x = res1.inputs["X"]
        y = steps[f"fwd.L{i}.ln2"].outputs["y"] if model.get("norm") == "post" else res2.outputs["R"]
        out.append(LayerWork(layer=i, tokens=list(x.rows or []),
                             ratio=_ratio(_value(y) - _value(x), _value(x)),
                             attn=_ratio(_value(res1.inputs["Attn"]), _value(x)),
                             ffn=_ratio(_value(res2.inputs["F"]), _value(res2.inputs["X"]))))
    return out


def _value(t) -> np.ndarray:
    return np.asarray(t.value, dtype=np.float64)


def _ratio(moved: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Row norms of `moved` over row norms of `base`: 0 where both are 0, ∞ where only `base` is."""
    # a diverged run's streams overflow: their norms are inf, said as such, with no numpy warning
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        top, bottom = np.linalg.norm(moved, axis=-1), np.linalg.norm(base, axis=-1)
        return np.where(top == 0, 0.0, top / bottom)
