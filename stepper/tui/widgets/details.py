"""What the step means, and whether our numbers agree with the independent reference."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from stepper.trace import Step
from stepper.tui.parts import check_parts, meaning_parts
from stepper.tui.widgets.in_place import update_in_place
from stepper.verify.verdicts import Check


class Details(VerticalScroll, can_focus=True):
    """Focusable (Tab), so ↑/↓ scroll a lesson longer than the room it has."""

    MORE = "↓ more: Tab to this box, then ↓"
    MORE_FOCUSED = "↓ more: ↓"

    def compose(self) -> ComposeResult:
        yield Static(id="meaning")
        yield Static(id="check")

    def show(self, step: Step, check: Check | None, *, asking: bool = False, shown: str = "original",
             stale: str = "") -> None:
        """`shown`: whose numbers are on screen ("original", "edited", "trained")."""
        parts = meaning_parts(step, asking=asking, shown=shown, stale=stale)
        update_in_place(self.query_one("#meaning", Static), Content.assemble(*parts))
        update_in_place(self.query_one("#check", Static), Content.assemble(*check_parts(step, check)))
        self.scroll_home(animate=False)
        self.call_after_refresh(self.mark_more)

    def mark_more(self) -> None:
        """A lesson cut off by the bottom edge says so in the box's top rule, until read to the end."""
        more = self.MORE_FOCUSED if self.has_focus else self.MORE
        self.border_title = more if self.scroll_y < self.max_scroll_y else None

    def on_focus(self) -> None:
        self.call_after_refresh(self.mark_more)

    def on_blur(self) -> None:
        self.call_after_refresh(self.mark_more)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.mark_more()

    def on_resize(self) -> None:
        self.call_after_refresh(self.mark_more)
