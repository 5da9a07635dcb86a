"""Where we are, what the step is called, its formula and the shapes that go in and out."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from stepper.trace import Step
from stepper.tui.present import formula_lines, phase_word, shape_line, where


class StepHeader(Static):
    def show(self, step: Step, index: int, total: int) -> None:
        place = " · ".join(p for p in (phase_word(step), where(step)) if p)
        parts: list = [
            (f"Step {index + 1}/{total}", "$text-muted"), ("  ", ""), (place, "$text-secondary"), "\n",
            (step.title, "bold $text"), "\n",
        ]
        for line in formula_lines(step):
            parts += [("  ", ""), (line, "bold $text-accent"), "\n"]
        parts += [("shapes ", "$text-muted"), (shape_line(step), "$text-primary")]
        if step.bindings:
            parts += ["\n", ("where  ", "$text-muted"),
                      ",  ".join(f"{name} = {value}" for name, value in step.bindings.items())]
        self.update(Content.assemble(*parts))
