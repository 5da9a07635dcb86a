"""Where we are, what the step is called, its formula and the shapes that go in and out."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from stepper.trace import Trace
from stepper.tui.parts import header_parts
from stepper.tui.widgets.in_place import update_in_place


class StepHeader(Static):
    def show(self, trace: Trace, index: int, *, hidden: bool = False) -> None:
        """`hidden`: a quiz is asking about this step (see `header_parts`)."""
        update_in_place(self, Content.assemble(*header_parts(trace, index, hidden=hidden)))
