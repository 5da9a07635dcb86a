"""What one recorded step costs: its FLOPs and the bytes of what it makes, read from its own shapes.

The counting rules are the cost model's (stepper/scenario/cost_rules.py), so the steps of a pass add
up to the rows of `stepper cost`'s table. Bytes are the elements of the step's outputs at 8 bytes
(float64); FLOPs follow docs/cost.md (a matmul [m, k]·[k, n] is 2·m·k·n).
"""

from __future__ import annotations

from stepper.scenario.cost import cached_ops
from stepper.scenario.cost_rules import BYTES, elementwise, matmul, size
from stepper.scenario.types import ModelConfig
from stepper.trace import Step, Trace

# FLOPs per parameter of one update, by the state the optimizer keeps beside w and g
UPDATE_FLOPS = {0: 2, 1: 4, 2: 12}  # sgd w − α·g; momentum also v ← β·v + g; adam two moments, √, ÷


def made_bytes(step: Step) -> int:
    return BYTES * sum(size(t.shape) for t in step.outputs.values())


def step_flops(trace: Trace, step: Step) -> int | None:
    """The step's FLOPs; None where nothing is computed to count (a curve, the text so far, a draw)."""
    ins = [t.shape for t in step.inputs.values()]
    outs = [t.shape for t in step.outputs.values()]
    made = sum(size(s) for s in outs)
    if step.phase == "generate":
        return _generation(trace, step, made)
    if step.phase == "update":
        return UPDATE_FLOPS.get(len(ins) - 2, 12) * size(ins[0]) if len(ins) >= 2 else None
    forward = step.phase == "forward"
    if step.stage == "linear":  # forward X·W (+ b); backward dX = dY·Wᵀ and dW = Xᵀ·dY (+ db = Σ dY)
        product = matmul(outs[0] if forward else ins[0], ins[0 if forward else 1][-1])
        bias = len(ins) == 3 if forward else any(name.startswith("db") for name in step.outputs)
        return (product if forward else 2 * product) + (size(outs[0] if forward else ins[0]) if bias else 0)
    if step.stage in ("scores", "cosine_scores", "weighted_sum"):  # S = Q·Kᵀ, Z = A·V; backward two products as big
        product = matmul(outs[0], ins[0][-1]) if forward else matmul(ins[0], ins[1][-1])
        return product if forward else 2 * product
    if step.stage == "pooling":  # a weighted sum of the rows read (forward) or written (backward)
        return size(ins[0]) if forward else made
    if step.stage == "embedding" and not forward:  # each gradient row added into the table
        return size(ins[0])
    if not forward:  # counted per element of the gradient it hands back (a norm's dγ, dβ ride along)
        made = size(outs[0])
    if step.stage == "merge":  # one add per extra path
        return (len(ins) - 1) * made
    return elementwise(step.stage, step.phase, made)


def _generation(trace: Trace, step: Step, made: int) -> int | None:
    if step.part in ("prefill", "decode"):
        keys = next((t.shape for name, t in step.outputs.items() if name.startswith("K_")), None)
        if keys is None:
            return None
        model = trace.config["model"]
        m = ModelConfig(**{**model, "sizes": tuple(model.get("sizes") or ())})
        context = keys[0]
        new = context if step.part == "prefill" else 1
        n_out = len(trace.config.get("vocab") or ()) or 1
        return sum(o.flops for o in cached_ops(m, new, context, n_out))
    if step.part in ("temperature", "filter", "softmax"):  # one division, comparison or softmax per logit
        return elementwise("softmax", "forward", made) if step.part == "softmax" else made
    return None


def cost_line(trace: Trace, step: Step) -> str:
    """`1,024 FLOPs · makes 128 bytes`: what the header and the export say under the shapes."""
    flops = step_flops(trace, step)
    work = f"{flops:,} FLOPs" if flops is not None else "no arithmetic counted"
    return f"{work} · makes {made_bytes(step):,} bytes"
