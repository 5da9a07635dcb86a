"""What the app says about a step beside its numbers: where it is, its settings, the text so far."""

from __future__ import annotations

import re

from stepper.present.stacks import block_word, stack_word
from stepper.trace import Step, Tensor, Trace

PHASE_WORDS = {"forward": "Forward", "backward": "Backward", "update": "Training", "generate": "Generation"}
# bindings that state a step's result rather than what goes into it
_RESULT_BINDINGS = frozenset({"token", "p(token)", "generated", "kept"})
# (symbol, value) the engine records → what the learner reads: the value with what it means
_SPOKEN_VALUES = {("τ", "0"): "0 (0 = greedy: no division)", ("top_k", "0"): "off",
                  ("mask", "none"): "none (every token sees every token)"}


# an encoder–decoder's masks, by (stack, block, mask): who sees whom, in the words of its two sequences
_SEQ2SEQ_MASKS = {
    ("enc", "attn", "none"): "none (every source token sees every source token)",
    ("enc", "attn", "<pad> keys (source)"): "<pad> keys (source): no source token sees a source <pad>",
    ("dec", "self", "causal"): "causal (each target token sees itself and the target tokens before it)",
    ("dec", "self", "causal + <pad> keys"): "causal + <pad> keys (each target token sees itself and the "
                                            "target tokens before it, never a <pad>)",
    ("dec", "cross", "none"): "none (every target token sees every source token)",
    ("dec", "cross", "<pad> keys (source)"): "<pad> keys (source): every target token sees every source "
                                             "token but a <pad>",
}


def shown_bindings(step: Step) -> dict[str, str]:
    """The step's bound symbols as the app and the exports show them."""
    return {k: _spoken(step, k, v) for k, v in step.bindings.items()}


def _spoken(step: Step, symbol: str, value: str) -> str:
    if symbol == "mask" and (step.stack, step.block, value) in _SEQ2SEQ_MASKS:
        return _SEQ2SEQ_MASKS[step.stack, step.block, value]
    return _SPOKEN_VALUES.get((symbol, value), value)


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
    """`Layer 0 · head 1` (an encoder–decoder: `Decoder layer 0 · Cross-attention · head 1`, `Encoder`),
    or "" for steps outside the layers."""
    parts = []
    if step.layer is not None:
        parts.append(f"{stack_word(step)} layer {step.layer}" if step.stack else f"Layer {step.layer}")
        if block_word(step):
            parts.append(block_word(step))
    elif step.stack:
        parts.append(stack_word(step))
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
    if rows and cols and step.head is not None and step.block == "cross" and not _model_dims(cols):
        return "target token (query) × source token (key)"
    return ""


def _model_dims(labels: list[str]) -> bool:
    return all(re.fullmatch(r"d\d+", label) for label in labels)


def head_note(step: Step, tensor: Tensor) -> str:
    return f"head {step.head}" if step.head is not None and tensor.index else ""
