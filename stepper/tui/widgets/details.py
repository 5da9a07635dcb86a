"""What the step means, and whether our numbers agree with the independent reference."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from stepper.trace import Step
from stepper.tui.parts import check_parts, meaning_parts


class Details(VerticalScroll, can_focus=True):
    """Focusable (Tab), so ↑/↓ scroll a lesson longer than the room it has."""

    def compose(self) -> ComposeResult:
        yield Static(id="meaning")
        yield Static(id="check")

    def show(self, step: Step, *, hide_lesson: bool = False, edited: bool = False) -> None:
        parts = meaning_parts(step, hide_lesson=hide_lesson, edited=edited)
        self.query_one("#meaning", Static).update(Content.assemble(*parts))
        self.query_one("#check", Static).update(Content.assemble(*check_parts(step)))
