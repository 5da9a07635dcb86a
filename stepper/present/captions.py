"""What the app says about a step beside its numbers: where it is, its settings, the text so far."""

from __future__ import annotations

from stepper.trace import Step, Tensor, Trace

PHASE_WORDS = {"forward": "Forward", "backward": "Backward", "update": "Training", "generate": "Generation"}
# bindings that state a step's result rather than what goes into it
_RESULT_BINDINGS = frozenset({"token", "p(token)", "generated", "kept"})
# (symbol, value) the engine records → what the learner reads: the value with what it means
_SPOKEN_VALUES = {("τ", "0"): "0 (0 = greedy: no division)", ("top_k", "0"): "off",
                  ("mask", "none"): "none (every token sees every token)"}


def shown_bindings(step: Step) -> dict[str, str]:
    """The step's bound symbols as the app and the exports show them."""
    return {k: _SPOKEN_VALUES.get((k, v), v) for k, v in step.bindings.items()}


def given_bindings(step: Step, *, hide_results: bool = False) -> dict[str, str]:
    """The step's bound symbols; while a quiz asks about the step, only those that are inputs."""
    shown = shown_bindings(step)
    if not hide_results:
        return shown
    return {k: v for k, v in shown.items()
            if k not in _RESULT_BINDINGS and not (k.startswith("L_") and k != "L_0")}


def phase_word(step: Step) -> str:
    return PHASE_WORDS.get(step.phase, step.phase.title())


def spoiler_free(step: Step) -> str:
    """The title without what it gives away: a sample step's title names the token drawn."""
    return step.title.split(" → ")[0] if step.phase == "generate" else step.title


def where(step: Step) -> str:
    """`Layer 0 · head 1`, or "" for steps outside the layers."""
    parts = []
    if step.layer is not None:
        parts.append(f"Layer {step.layer}")
    if step.head is not None:
        parts.append(f"head {step.head}")
    return " · ".join(parts)


def text_so_far(trace: Trace, step: Step, *, hide_new: bool = False) -> tuple[list[str], list[str]] | None:
    """(prompt, tokens generated up to this step) on a generation step; None elsewhere.

    A sample step already has its token (unless a quiz is still asking for it); the closing text
    step has them all.
    """
    if step.phase != "generate":
        return None
    if step.token is None:
        upto = len(trace.generated)
    else:
        upto = step.token if step.part == "sample" and not hide_new else step.token - 1
    return list(trace.tokens), list(trace.generated[:upto])


def axis_caption(step: Step, tensor: Tensor) -> str:
    """What the rows and columns of a table are, in the learner's words."""
    rows, cols = tensor.rows, tensor.cols
    if rows and cols and rows == cols and step.head is not None:
        return "query × key"
    return ""


def head_note(step: Step, tensor: Tensor) -> str:
    return f"head {step.head}" if step.head is not None and tensor.index else ""
