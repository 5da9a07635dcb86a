"""A Trace as a markdown worked example: the document `stepper export --format md` and the TUI's `e` write.

A pure function of the Trace and what is passed beside it (verdicts, quiz answers, a what-if label):
the same arguments always give the same text, byte for byte, which is what
lets docs/examples/ be checked for staleness and the golden tests compare whole documents.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

import numpy as np

from stepper.export.md_generate import generation_section
from stepper.export.md_insight import insight_section
from stepper.export.md_outcome import outcome_section
from stepper.export.md_params import param_section
from stepper.export.md_quiz import quiz_note, quiz_section, results_by_step
from stepper.export.md_sections import journey_section, setup_section, summary_section
from stepper.export.md_steps import Axes, Findings, step_block
from stepper.export.md_tables import code, text
from stepper.export.md_train import training_section
from stepper.present.outline import INPUT_SIDE, OUTPUT_SIDE, pass_sections
from stepper.present.stacks import SHARED_TABLE, block_word, is_seq2seq, stack_sections, stack_word
from stepper.roundoff import NOISE
from stepper.trace import Step, Trace
from stepper.verify.verdicts import Check
from stepper.visible import visible

PHASES = ("forward", "backward", "update", "generate")  # the order a learner meets them; unknown phases follow
PHASE_TITLE = {"forward": "Forward pass", "backward": "Backward pass", "update": "Training",
               "generate": "Generation"}
# what the model predicted is about the forward and backward pass, so it closes them, before training
BEFORE_PREDICTION = ("forward", "backward")

PHASE_INTRO = {
    "forward": ("The forward pass turns the input into a loss, one operation at a time. Each step gives "
                "the formula, the shapes going in and out, the numbers themselves, and what the step is for."),
    "backward": ("The backward pass runs the same operations in reverse. Each step receives the gradient "
                 "of the loss with respect to its output and turns it into gradients for its inputs and "
                 "its parameters. A `d` in front of a name means ∂L/∂ of that name: `dQ` is ∂L/∂Q."),
}

LAYER_INTRO = {
    ("forward", "post"): "Post-norm: attention, add the input back, LayerNorm; then the FFN, add, LayerNorm.",
    ("forward", "pre"): "Pre-norm: LayerNorm, attention, add the input back; then LayerNorm, the FFN, add.",
    ("forward", "none"): "No LayerNorm: attention and add the input back; then the FFN and add.",
}
# a decoder layer of an encoder–decoder has three sublayers
DECODER_LAYER_INTRO = {
    ("forward", "post"): ("Post-norm: causal self-attention, add the input back, LayerNorm; cross-attention (queries "
                          "from this stream, keys and values from the memory), add, LayerNorm; then the FFN, add, "
                          "LayerNorm."),
    ("forward", "pre"): ("Pre-norm: LayerNorm, causal self-attention, add the input back; LayerNorm, cross-attention "
                         "(queries from this stream, keys and values from the memory), add; LayerNorm, the FFN, add."),
    ("forward", "none"): ("No LayerNorm: causal self-attention and add the input back; cross-attention (queries from "
                          "this stream, keys and values from the memory) and add; the FFN and add."),
}
BACKWARD_LAYER = ("The layer's operations in reverse order. Where a tensor fed more than one branch on the "
                  "way forward, a merge step adds up the gradients that come back along each branch.")


def render_markdown(trace: Trace, *, verdicts: Mapping[str, Check] | None = None, answers=(), elsewhere=(),
                    whatif: str = "", precision: int = 4, only: str | None = None, steps: str | None = None) -> str:
    """The whole worked example. `only` keeps one phase; `steps` keeps ids matching an fnmatch pattern.

    `verdicts`: step id → Check (None: verification was not run); `answers`: the quiz's (Question,
    Verdict) pairs on this trace, `elsewhere` (Question, Verdict, "on what") on another version of it;
    `whatif`: the edit the trace was recomputed after ("" for the scenario as written).
    """
    if not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a whole number of significant digits ≥ 1, got {precision!r}")
    phases = [*PHASES, *dict.fromkeys(s.phase for s in trace.steps if s.phase not in PHASES)]
    if only is not None and only not in phases:
        raise ValueError(f"only must be one of {', '.join(phases)}; got {only!r}")
    # numbering follows the full trace so that step 12 is step 12 whatever the filter
    numbered = [(i + 1, s) for i, s in enumerate(trace.steps)
                if (only is None or s.phase == only) and (steps is None or fnmatch.fnmatchcase(s.id, steps))]
    shown = [p for p in phases if any(s.phase == p for _, s in numbered)]
    found = Findings(verdicts or {}, whatif)
    parts = [_intro(trace, precision, shown, found, bool(answers or elsewhere)), _filter_note(trace, numbered, only, steps),
             setup_section(trace), param_section(trace),
             journey_section(trace, trace.steps)]
    axes = Axes(trace)
    quiz = {sid: quiz_note(results) for sid, results in results_by_step(answers).items()}
    later = []
    for phase in shown:
        chosen = [(n, s) for n, s in numbered if s.phase == phase]
        (parts if phase in BEFORE_PREDICTION else later).append(_phase(trace, phase, chosen, axes, precision, quiz, found))
        if phase == "update":  # what the updates did follows them
            later.append(insight_section(trace, precision))
    if not numbered:
        parts.append("No step matches the filter" + (f" `{steps}`" if steps else "") + ".")
    parts += [outcome_section(trace, precision), *later, quiz_section(trace, answers, elsewhere),
              summary_section(trace, numbered, found.verdicts)]
    # the scenario's own strings (title, tokens, lessons…) are in it: drawn, never obeyed, when it is shown
    return visible("\n\n".join(filter(None, parts)) + "\n")


def _filter_note(trace: Trace, numbered: list, only: str | None, steps: str | None) -> str:
    if only is None and steps is None:
        return ""
    what = (f"the {only} steps" if only else "the steps") + (f" whose id matches `{steps}`" if steps else "")
    return (f"*This export keeps {len(numbered)} of the trace's {len(trace.steps)} steps: {what}. "
            "The setup, the parameters and the dimension "
            "journey still describe the whole model.*")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a plain heading: lower case, spaces to hyphens, other punctuation dropped."""
    return "#" + "".join(c for c in heading.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def _intro(trace: Trace, precision: int, phases: list[str], found: Findings, quizzed: bool) -> str:
    title = trace.title or trace.scenario
    verified = any(s.id in found.verdicts for s in trace.steps)
    early = [p for p in phases if p in BEFORE_PREDICTION]
    contents = [("Setup", "Setup"), ("Parameters", "Parameters"), ("Dimension journey", "The dimension journey"),
                *[(_title(p), _title(p)) for p in early], ("Prediction", "What the model predicted"),
                *[item for p in phases if p not in early for item in _contents_after(trace, p)],
                *([("Quiz", "Quiz")] if quizzed else []), ("Summary", "Summary")]
    check = ("Every step was also computed independently with PyTorch autograd and compared entry by "
             "entry; the verdict closes each step and the summary table collects them."
             if verified else
             "Verification against PyTorch autograd was not run for this export, so every step is "
             "marked *not verified*.")
    lessons = (" The lessons were written for the scenario as it stands, so the numbers they quote may "
               "differ from the tables." if any(s.lesson for s in trace.steps) else "")
    whatif = found.whatif and (
        f"> **What-if.** These numbers come from an edited copy of the scenario ({text(found.whatif)}): every "
        "step below was recomputed after the edit." + lessons)
    return "\n\n".join(filter(None, [
        f"# {text(title)}",
        whatif,
        " ".join(trace.description.split()) and text(" ".join(trace.description.split())),
        (f"A worked example generated by stepper from the scenario {code(trace.scenario)}. It follows "
         "one input through every operation of the model, forward to the loss and then backward to the "
         "gradient of every parameter, with the actual numbers at each step." + _beyond(trace, phases) +
         " Every step prints all the numbers it reads, so any of them can be redone by hand or in a few "
         "lines of numpy. " + check),
        (f"Numbers are rounded to {precision} significant digits; the JSON export keeps full precision. "
         f"−∞ marks a masked entry. An entry smaller than {NOISE:g} times its table's largest entry (or "
         f"than {NOISE:g}, when that entry is below 1) is printed as 0: at that size its digits are "
         "round-off, and would differ from machine to machine."),
        " · ".join(f"[{name}]({_anchor(heading)})" for name, heading in contents),
    ]))


def _contents_after(trace: Trace, phase: str) -> list[tuple[str, str]]:
    """A later phase's link, and after Training the link to what it did (when it is shown)."""
    shown = phase == "update" and trace.trained and all(np.all(np.isfinite(v)) for v in trace.trained.values())
    return [(_title(phase), _title(phase))] + ([("What training did", "What training did")] if shown else [])


def _beyond(trace: Trace, phases: list[str]) -> str:
    """A sentence on what follows the backward pass, so the reader knows the document goes further."""
    out = ""
    if "update" in phases:
        n = trace.training.updates if trace.training is not None else 0
        out += (f" Then the optimizer takes {n} updates, the first worked out parameter by parameter."
                if n > 1 else " Then the optimizer takes one update, worked out parameter by parameter."
                if n == 1 else " Then the optimizer updates the parameters.")
    if "generate" in phases:
        k = len(trace.generated)
        out += (f" Finally the model writes {k} token{'s' * (k != 1)} after its prompt, one draw at a time."
                if k else " Finally the model writes text after its prompt, one draw at a time.")
    return out


def _title(phase: str) -> str:
    return PHASE_TITLE.get(phase, f"{phase.capitalize()} steps")


# the sections of a pass outside its layers (present.outline.pass_sections), in the export's words
SIDE_HEADINGS = {("forward", INPUT_SIDE): "Into the model: embeddings",
                 ("forward", OUTPUT_SIDE): "From the last layer to the loss",
                 ("backward", OUTPUT_SIDE): "From the loss back to the last layer",
                 ("backward", INPUT_SIDE): "Back into the embeddings"}


def _section_name(step: Step, section: int | str | None, stacked: str | None, seq2seq: bool) -> str | None:
    """`stacked`: an encoder–decoder's place in its stack (present.stacks.stack_sections)."""
    if section is None:
        return None
    if stacked:
        return f"{stack_word(step)} · {stacked}"
    if seq2seq and section == INPUT_SIDE:
        return SHARED_TABLE
    return f"Layer {section}" if isinstance(section, int) else SIDE_HEADINGS[step.phase, section]


def _layer_intro(step: Step, phase: str, norm: str) -> str:
    if step.stack == "dec":
        return DECODER_LAYER_INTRO.get((phase, norm), BACKWARD_LAYER)
    return LAYER_INTRO.get((phase, norm), BACKWARD_LAYER)


def _phase(trace: Trace, phase: str, chosen: list[tuple[int, Step]], axes: Axes, precision: int,
           quiz: dict[str, str], found: Findings) -> str:
    if phase == "update":
        return training_section(trace, chosen, axes, precision, quiz, found)
    if phase == "generate":
        return generation_section(trace, chosen, axes, precision, quiz, found)
    # sections follow the full trace, so a filtered step keeps the section it belongs to
    seq2seq = is_seq2seq(trace)
    section_of = {s.id: _section_name(s, section, stacked, seq2seq) for s, section, stacked
                  in zip(trace.steps, pass_sections(trace), stack_sections(trace), strict=True) if s.phase == phase}
    norm = (trace.config.get("model") or {}).get("norm", "none")
    out, current, block = [f"## {_title(phase)}", PHASE_INTRO.get(phase, "")], None, ""
    for n, s in chosen:
        if section_of[s.id] and section_of[s.id] != current:
            current, block = section_of[s.id], ""
            out.append(f"### {current}")
            if s.layer is not None and (trace.config.get("model") or {}).get("kind") != "mlp":
                out.append(_layer_intro(s, phase, norm))
        if s.stack and block_word(s) and block_word(s) != block:  # an encoder–decoder's layer: its blocks
            block = block_word(s)
            out.append(f"**{block}**")
        out.append(step_block(s, n, trace, axes, precision, quiz.get(s.id, ""), found))
    return "\n\n".join(filter(None, out))
