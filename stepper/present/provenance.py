"""Where what a step shows comes from: the step that made an input, and the numbers a lesson quotes."""

from __future__ import annotations

from stepper.trace import Step, Tensor, Trace


def _name_of(step: Step, tensor: Tensor) -> str | None:
    """The name `step` shows `tensor` under."""
    return next((name for name, t in step.inputs.items() if t is tensor), None)


def made_by(trace: Trace, index: int, tensor: Tensor, *, titled: bool = False) -> str:
    """'from step 38' ('… (Through Q·Kᵀ)' when `titled`), 'from steps 40, 47, one per head', or ''
    for an input no step made: the words the TUI and the export put beside an input. Where the
    step that made it called it otherwise, that name too ('from step 24, as dh')."""
    sources = trace.sources_of(index, tensor)
    if len(sources) == 1:
        title = f" ({trace.steps[sources[0]].title})" if titled else ""
        made = [name for name, t in trace.steps[sources[0]].outputs.items() if t.key == tensor.key]
        called = f", as {made[0]}" if made and _name_of(trace.steps[index], tensor) not in made else ""
        return f"from step {sources[0] + 1}{title}{called}"
    return f"from steps {', '.join(str(i + 1) for i in sources)}, one per head" if sources else ""


def stale_lesson(trace: Trace, step: Step | None, whatif: str = "") -> str:
    """Why the lesson at `step` may quote numbers other than those shown ("" when it quotes these):
    a what-if edit (`whatif`, the edit `trace` was recomputed after) changes every step; generation
    flags change only the generation steps."""
    if whatif:
        return "written for the original numbers, before the what-if edit"
    if trace.overrides and step is not None and step.phase == "generate":
        return f"written for the scenario's own generation settings, not {trace.overrides}"
    return ""
