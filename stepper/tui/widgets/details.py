"""What the step means, and whether our numbers agree with the independent reference."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from stepper.trace import Step
from stepper.tui.present import check_line


class Details(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="meaning")
        yield Static(id="check")

    def show(self, step: Step) -> None:
        # a scenario's own lesson replaces the built-in explanation, and says so
        source = "Lesson  " if step.lesson else "Meaning  "
        self.query_one("#meaning", Static).update(
            Content.assemble((source, "bold $text-primary"), step.meaning.strip()))
        check = step.check
        style = "$text-muted" if check is None else ("$text-success" if check.ok else "bold $text-error")
        self.query_one("#check", Static).update(
            Content.assemble(("Check  ", "bold $text-primary"), (check_line(step), style)))
