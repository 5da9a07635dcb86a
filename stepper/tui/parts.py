"""What the text widgets say, as (text, style) pieces for `Content.assemble`.

Built where numpy is (the widgets, or the launcher's forked child) and shown where it need not
be: the first frame is painted from these pieces alone, before the parent has loaded numpy.
Nothing here imports Textual, so the child never pays for it.
"""

from __future__ import annotations

from stepper.present.captions import given_bindings, phase_word, spoiler_free, text_so_far, where
from stepper.present.cost import cost_line
from stepper.present.cross import stream_note
from stepper.present.labels import joined, shape_line, visible_token
from stepper.present.outline import Row
from stepper.present.roles import formula_lines
from stepper.present.verdicts import AGREES, DISAGREES, UNCHECKED, check_line, mark
from stepper.present.worked import worked_line
from stepper.trace import Step, Trace
from stepper.verify.verdicts import Check

Parts = list  # of str | (text, style)

HEADER_STYLE = {"phase": "bold $accent", "stack": "bold underline $accent", "group": "bold $text-primary",
                "block": "$text-primary", "head": "italic $text-secondary"}
BADGE_STYLE = {AGREES: "bold $success", DISAGREES: "bold $error", UNCHECKED: "$text-muted"}
CHANGED = ("◆", "bold $warning")  # after a what-if edit: this step has cells the edit moved


def row_parts(trace: Trace, row: Row, verdicts: dict[str, Check], changed: set[int] | None = None) -> Parts:
    """One line of the pipeline list: a heading, or a step with its check badge (and ◆)."""
    indent = " " * row.depth
    if row.step is None:
        return [indent, (row.text, HEADER_STYLE[row.kind])]
    badge = mark(verdicts.get(trace.steps[row.step].id))
    if changed is None:
        return [indent, (badge, BADGE_STYLE[badge]), " ", row.text]
    return [indent, (badge, BADGE_STYLE[badge]), CHANGED if row.step in changed else (" ", ""), " ", row.text]


def header_parts(trace: Trace, index: int, *, hidden: bool = False) -> Parts:
    """Where we are, the title, the growing text of a generation step, the formula and the shapes.

    `hidden`: a quiz is asking about this step, so nothing that gives the answer away.
    """
    step = trace.steps[index]
    place = " · ".join(p for p in (phase_word(step), where(step)) if p)
    parts: Parts = [
        (f"Step {index + 1}/{len(trace.steps)}", "$text-muted"), ("  ", ""), (place, "$text-secondary"), "\n",
        (spoiler_free(step) if hidden else step.title, "bold $text"), "\n",
    ]
    text = text_so_far(trace, step, hide_new=hidden)
    if text is not None:
        # the sequence as it grows is the point of generation, so it leads the step
        prompt, generated = text
        gap = "" if joined(prompt + generated) == "".join(prompt + generated) else " "
        parts += [("text   ", "$text-muted"), (joined(prompt), "$text-secondary")]
        for k, token in enumerate(generated):
            last = k == len(generated) - 1 and step.part == "sample"
            shown = visible_token(token) if last else token  # the new token stands out, even a space
            parts += [gap, (shown, "bold reverse $text-accent" if last else "bold $text-accent")]
        parts += [("▌", "$text-muted"), "\n"]
    for line in formula_lines(step):
        parts += [("  ", ""), (line, "bold $text-accent"), "\n"]
    parts += [("shapes ", "$text-muted"), (shape_line(step, hide_outputs=hidden), "$text-primary")]
    if streams := stream_note(trace, index):  # cross-attention: which stream Q, K and V come from
        parts += ["\n", ("streams ", "$text-muted"), (streams, "$text-primary")]
    worked = None if hidden else worked_line(step)  # a line of arithmetic, not one more symbol
    bindings = given_bindings(step, hide_results=hidden)
    if bindings:
        parts += ["\n", ("where  ", "$text-muted"),
                  ",  ".join(f"{name} = {value}" for name, value in bindings.items())]
    if worked:
        parts += ["\n", ("e.g.   ", "$text-muted"), (worked, "$text-primary")]
    if not hidden:  # what it makes would tell its shape
        parts += ["\n", ("cost   ", "$text-muted"), (cost_line(trace, step), "$text-secondary")]
    return parts


# a lesson quotes the original numbers: said above it when other numbers are on screen
OTHER_NUMBERS = {"edited": "(written for the original numbers; press o to see them)  ",
                 "trained": "(written for the numbers before training; press t to see them)  "}


def meaning_parts(step: Step, *, asking: bool = False, shown: str = "original", stale: str = "") -> Parts:
    """The scenario's lesson for this step, if it has one, then what the step means in general.

    `asking`: a quiz is asking about this step; both often work the answer out, so they wait.
    `shown`: whose numbers are on screen: after a what-if edit ("edited") or training ("trained") a
    lesson, which quotes the original ones, says so.
    `stale`: why else the lesson may quote other numbers (present.provenance.stale_lesson), e.g. generation flags.
    """
    if asking:
        return [("Meaning  ", "bold $text-primary"),
                ("follows your answer: it often works the answer out", "$text-muted")]
    general = [("Meaning  ", "bold $text-primary"), step.formula.meaning.strip()]
    if not step.lesson:
        return general
    # the general meaning too: a scenario's lesson is about its numbers, and may leave out the why
    # (a causal mask's lesson need not say why −∞ rather than 0)
    note = [(OTHER_NUMBERS[shown], "italic $text-warning")] if shown in OTHER_NUMBERS else (
        [(f"({stale})  ", "italic $text-warning")] if stale else [])
    return [("Lesson  ", "bold $text-primary"), *note, step.lesson.strip(), "\n", *general]


def check_parts(step: Step, check: Check | None) -> Parts:
    """The verdict line under a step; `check` comes from the screen's verdicts, never from the step."""
    style = "$text-muted" if check is None else ("$text-success" if check.ok else "bold $text-error")
    return [("Check  ", "bold $text-primary"), (check_line(step, check), style)]
