"""An encoder–decoder's places in the learner's words: its two stacks, the blocks of their layers, and the
parts of a stack outside its layers (the embeddings, the final norm, the memory's gradient).

The engine says where each step is (`Step.stack`, `Step.block`, read from its id by the Recorder); this
module names those places, once, for the app's list and the export's headings alike.
"""

from __future__ import annotations

from stepper.trace import Step, Trace

STACK_WORDS = {"enc": "Encoder", "dec": "Decoder"}
BLOCK_WORDS = {("enc", "attn"): "Self-attention", ("dec", "self"): "Self-attention (causal)",
               ("dec", "cross"): "Cross-attention", ("enc", "ffn"): "FFN", ("dec", "ffn"): "FFN"}
# a stack's steps outside its layers, by (phase, stack, before its layers?): the direction of travel
# decides what comes first (forward: the embedding; backward into the encoder: the memory's sum)
SIDE_WORDS = {("forward", "enc", True): "Source embedding", ("forward", "enc", False): "Final norm → memory",
              ("forward", "dec", True): "Target embedding", ("forward", "dec", False): "Final norm",
              ("backward", "dec", True): "Final norm", ("backward", "dec", False): "Target embedding",
              ("backward", "enc", True): "Memory", ("backward", "enc", False): "Source embedding"}
SHARED_TABLE = "Shared embedding table"  # a seq2seq's backward merges of what both stacks read


def is_seq2seq(trace: Trace) -> bool:
    return any(s.stack for s in trace.steps)


def stack_word(step: Step) -> str:
    return STACK_WORDS.get(step.stack, "")


def block_word(step: Step) -> str:
    return BLOCK_WORDS.get((step.stack, step.block), "")


def stack_sections(trace: Trace) -> list[str | None]:
    """Each stacked step's part of its stack outside the layers ("Source embedding", "Memory", …), or
    "Layer i"; None for steps outside the stacks."""
    out: list[str | None] = []
    seen: set[tuple[str, str]] = set()  # (phase, stack) whose layers have begun
    for step in trace.steps:
        if not step.stack:
            out.append(None)
            continue
        if step.layer is not None:
            seen.add((step.phase, step.stack))
            out.append(f"Layer {step.layer}")
        else:
            out.append(SIDE_WORDS.get((step.phase, step.stack, (step.phase, step.stack) not in seen),
                                      step.phase.title()))
    return out


def within(title: str, heading: str) -> str:
    """A step's title without the place its heading already names: under "Decoder", "Decoder
    cross-attention: Scores Q·Kᵀ" reads "Scores Q·Kᵀ" and "Encoder: …" under "Encoder" the rest."""
    place, sep, rest = title.partition(": ")
    if not sep or not (place == heading or place.startswith(heading + " ")):
        return title
    return rest[:1].upper() + rest[1:]
