"""How far each layer moves each token's vector, read from a trace's forward steps.

For layer i of a stack and token t, with x the vector entering the layer (input `X` of `fwd.L{i}.res1`:
the embeddings for layer 0, else the previous layer's output) and y the vector leaving it:

    ratio[t] = ‖y_t − x_t‖ / ‖x_t‖

y is the output of the layer's last step: its last residual add (R of `res2`; a seq2seq decoder layer's
`res3`) with pre-norm or no norm, its last LayerNorm (y of `ln2`, `ln3`) with post-norm, where the
stream itself passes through the LayerNorm (so the ratio there also counts the rescaling). Each
sublayer alone: ‖what it adds‖ / ‖what it is added to‖ at its residual step: `attn[t]` = ‖Attn_t‖ /
‖X_t‖ at `res1`, `ffn[t]` = ‖F_t‖ / ‖X_t‖ at the last, and in a decoder layer of a seq2seq `cross[t]` =
‖Cross_t‖ / ‖X_t‖ at `res2`. A ratio near 0: the token passes the layer almost unchanged; near 1 or
more: the layer rewrites it. A seq2seq's two stacks are measured alike (`fwd.enc.L{i}…` over the
source tokens, `fwd.dec.L{i}…` over the target tokens the decoder reads). Compare a trace before
training with the trace after (`before_after.trained_scenario`) to see what training changed.
"""

from __future__ import annotations

import numpy as np

from stepper.insight.stacks import stacks
from stepper.insight.types import LayerWork
from stepper.scenario.types import SUBLAYERS
from stepper.trace import Trace

# each block's output as its residual step names the input it adds (engine/layer.py's, decoder_layer.py's)
ADDED = {"attn": "Attn", "self": "Attn", "cross": "Cross", "ffn": "F"}
FIELDS = {"attn": "attn", "self": "attn", "cross": "cross", "ffn": "ffn"}  # where LayerWork keeps each


def layer_work(trace: Trace) -> list[LayerWork]:
    """Per stack (a seq2seq's encoder, then its decoder) and layer, the ratios of every token of the traced
    example; empty for an mlp, and for a block without both residual adds (`model.residual`,
    `model.ffn`): a sublayer that replaces the stream adds nothing to anything, so there is no "what it
    adds" to measure."""
    model = trace.config.get("model") or {}
    if not model.get("ffn", True) or set(model.get("residual", SUBLAYERS)) != set(SUBLAYERS):
        return []
    steps = {s.id: s for s in trace.steps if s.phase == "forward"}
    out = []
    for stack in stacks(model):
        last = len(stack.blocks)
        for i in range(stack.layers):
            at = stack.at(i)
            x = steps[f"{at}.res1"].inputs["X"]
            y = steps[f"{at}.ln{last}"].outputs["y"] if model.get("norm") == "post" else steps[f"{at}.res{last}"].outputs["R"]
            added = {}
            for n, block in enumerate(stack.blocks, start=1):
                res = steps[f"{at}.res{n}"]
                added[FIELDS[block]] = _ratio(_value(res.inputs[ADDED[block]]), _value(res.inputs["X"]))
            out.append(LayerWork(layer=i, tokens=list(x.rows or []), ratio=_ratio(_value(y) - _value(x), _value(x)),
                                 stack=stack.name, **added))
    return out


def _value(t) -> np.ndarray:
    return np.asarray(t.value, dtype=np.float64)


def _ratio(moved: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Row norms of `moved` over row norms of `base`: 0 where both are 0, ∞ where only `base` is."""
    # a diverged run's streams overflow: their norms are inf, said as such, with no numpy warning
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        top, bottom = np.linalg.norm(moved, axis=-1), np.linalg.norm(base, axis=-1)
        return np.where(top == 0, 0.0, top / bottom)
