"""The pipeline list: every step, grouped, with its verification badge."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stepper.trace import Trace
from stepper.tui.outline import Row, outline
from stepper.tui.present import verdict

HEADER_STYLE = {"phase": "bold $accent", "group": "bold $text-primary", "head": "italic $text-secondary"}
BADGE_STYLE = {"✓": "bold $success", "✗": "bold $error", "·": "$text-muted"}


class PipelineList(OptionList, inherit_bindings=False):
    """Steps are options (id `s<index>`); the group headings are disabled options."""

    # only the list's own movement keys: the inherited arrows, Home/End and paging belong to
    # the screen's stepping bindings, and would otherwise reorder and shadow them in the Footer
    BINDINGS = [
        Binding("up", "cursor_up", "previous in list", show=False),
        Binding("down", "cursor_down", "next in list", show=False),
        Binding("enter", "select", "open step", show=False),
    ]

    class StepChosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, trace: Trace, **kwargs) -> None:
        self.trace = trace
        self.rows = outline(trace)
        self._option_of = {row.step: n for n, row in enumerate(self.rows) if row.step is not None}
        super().__init__(*(self._option(row) for row in self.rows), **kwargs)

    def _prompt(self, row: Row) -> Content:
        indent = " " * row.depth
        if row.step is None:
            return Content.assemble(indent, (row.text, HEADER_STYLE[row.kind]))
        mark = verdict(self.trace.steps[row.step])
        return Content.assemble(indent, (mark, BADGE_STYLE[mark]), " ", row.text)

    def _option(self, row: Row) -> Option:
        if row.step is None:
            return Option(self._prompt(row), disabled=True)
        return Option(self._prompt(row), id=f"s{row.step}")

    def show_step(self, index: int) -> None:
        """Highlight a step without announcing it back (the screen already knows)."""
        option = self._option_of[index]
        if self.highlighted != option:
            with self.prevent(OptionList.OptionHighlighted):
                self.highlighted = option
        self.scroll_to_highlight()

    def scroll_to_highlight(self, top: bool = False) -> None:
        # centred, so the steps around the current one (and its group heading) stay in view
        try:
            self._update_lines()
            y = self._index_to_line[self.highlighted]
        except (KeyError, AttributeError):
            super().scroll_to_highlight(top)
            return
        self.scroll_to_region(Region(0, y, self.scrollable_content_region.width, 1), animate=False,
                              center=True, force=True, immediate=True)

    def refresh_badges(self, steps: list[int] | None = None) -> None:
        for index in range(len(self.trace.steps)) if steps is None else steps:
            option = self._option_of[index]
            self.replace_option_prompt_at_index(option, self._prompt(self.rows[option]))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.StepChosen(int(event.option.id[1:])))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.StepChosen(int(event.option.id[1:])))
