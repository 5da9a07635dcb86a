"""Cross-attention, where two streams meet: which one each of Q, K and V came from, in this trace's own
numbers, and the way between a decoder layer's cross-attention and the encoder output (the memory) it reads.

The links follow provenance (Trace.sources_of), never titles: the memory is the encoder's step that made
what a cross-attention step reads; on the way back, the encoder's step that sums what every
cross-attention sends to it.
"""

from __future__ import annotations

from stepper.present.labels import joined
from stepper.trace import Step, Trace

CROSS, DECODER, ENCODER = "cross", "dec", "enc"


def is_cross(step: Step) -> bool:
    return step.stack == DECODER and step.block == CROSS


def _layer_steps(trace: Trace, step: Step) -> list[int]:
    """The steps of `step`'s cross-attention block in the same layer and pass."""
    return [i for i, s in enumerate(trace.steps)
            if is_cross(s) and s.layer == step.layer and s.phase == step.phase]


def memory_step(trace: Trace, index: int) -> int | None:
    """The encoder's step that a cross-attention step's layer reads (forward: the one that made the
    memory; backward: the one that adds up the memory's gradient parts); None for another step."""
    step = trace.steps[index]
    if not is_cross(step):
        return None
    if step.phase == "forward":
        made = (src for i in _layer_steps(trace, step) for t in trace.steps[i].inputs.values()
                for src in trace.sources_of(i, t))
        return next((src for src in made if trace.steps[src].stack == ENCODER), None)
    sent = {t.key for i in _layer_steps(trace, step) for t in trace.steps[i].outputs.values() if t.key}
    return next((i for i, s in enumerate(trace.steps) if i > index and s.stack == ENCODER
                 and any(t.key in sent for t in s.inputs.values())), None)


def memory_readers(trace: Trace, index: int) -> list[int]:
    """The cross-attention steps that read what the encoder's step `index` made (forward), or that sent
    it a part of its gradient (backward), in trace order; empty for any other step."""
    step = trace.steps[index]
    if step.stack != ENCODER:
        return []
    layers: dict[int | None, list[int]] = {}
    for i, s in enumerate(trace.steps):
        if is_cross(s) and s.phase == step.phase:
            layers.setdefault(s.layer, []).append(i)
    # one provenance search per layer: every step of a layer's block reads the same memory
    return sorted(i for steps in layers.values() if memory_step(trace, steps[0]) == index
                  for i in steps if _touches(trace, i, index))


def _touches(trace: Trace, i: int, memory: int) -> bool:
    """Whether step i itself reads the memory (forward) or sends a part to it (backward)."""
    step, made = trace.steps[i], trace.steps[memory]
    if step.phase == "forward":
        return any(memory in trace.sources_of(i, t) for t in step.inputs.values())
    return any(t.key == part.key for t in step.outputs.values() for part in made.inputs.values())


def stream_note(trace: Trace, index: int) -> str:
    """On a cross-attention step: where Q, K and V came from, with their row counts and tokens ("" elsewhere)."""
    step = trace.steps[index]
    memory = memory_step(trace, index)
    if not is_cross(step) or memory is None:
        return ""
    forward = step if step.phase == "forward" else None
    rows = {}
    for i in _layer_steps(trace, forward or step):
        for t in (*trace.steps[i].inputs.values(), *trace.steps[i].outputs.values()):
            if t.rows and t.key and not t.is_param:
                rows.setdefault(t.key.removeprefix("d:").split("<-")[0].rpartition(".")[2], t.rows)
    target, source = rows.get("Q"), rows.get("K")
    if not target or not source:
        return ""
    q = (f"Q: {len(target)} rows, one per target token the decoder reads ({joined(target)}), "
         f"from the decoder stream")
    kv = (f"K, V: {len(source)} rows, one per source token ({joined(source)}), from the memory, "
          f"the encoder's output")
    if step.phase == "forward":
        return (f"{q}; {kv} (step {memory + 1}). So the scores are {len(target)} × {len(source)}: "
                "a row per target token, a column per source token.")
    parts = len(trace.steps[memory].inputs)  # a K part and a V part from each decoder layer
    return (f"{q}: dQ goes back down the decoder. {kv}: dK and dV go to the memory, where step "
            f"{memory + 1} adds up all {parts} parts (K and V of each of the {parts // 2} decoder "
            f"layer{'s' * (parts != 2)}).")
