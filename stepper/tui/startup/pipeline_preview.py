"""The pipeline list's picture for the first frame: its rows as one block of text.

The real list (an OptionList) renders and re-renders every row as focus, highlight and layout
settle, which on the first frame costs more than the rest of the screen. For the moment before
the main screen replaces it, one widget drawing the same rows, highlight bar and scrollbar is
all the first frame needs.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget

HEADING = "$text-disabled"  # headings are the list's disabled options


class PipelineRows(Widget):
    # a component class, like the list's own highlight, so that its colours are worked out the same
    # way (a foreground such as `auto 87%` is blended over the bar, not taken as pure white)
    COMPONENT_CLASSES = {"pipeline-rows--highlight"}

    def __init__(self, rows: list, highlight: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows, self.highlight = rows, highlight

    def render(self) -> Content:
        # the highlight bar runs the list's full width, so the picture is drawn for the width it has
        lines = []
        for n, (parts, option_id) in enumerate(self.rows):
            line = Content.assemble(*parts)
            if option_id is None:
                line = line.stylize_before(HEADING)
            if n == self.highlight:
                bar = self.get_visual_style("pipeline-rows--highlight")
                line = line.pad_right(max(self.size.width - line.cell_length, 0)).stylize_before(bar)
            lines.append(line)
        return Content("\n").join(lines)


class PipelinePreview(VerticalScroll, can_focus=True):
    def __init__(self, rows: list, highlight: int, **kwargs) -> None:
        """`rows`: (Content parts, option id or None for a heading), as `first_frame.first_frame` gives them."""
        super().__init__(**kwargs)
        self.rows, self.highlight = rows, highlight

    def compose(self) -> ComposeResult:
        yield PipelineRows(self.rows, self.highlight)
