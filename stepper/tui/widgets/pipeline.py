"""The pipeline list: every step, grouped, with its verification badge."""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stepper.present.outline import Row, outline
from stepper.trace import Trace
from stepper.tui.bindings import LIST_BINDINGS
from stepper.tui.parts import row_parts
from stepper.verify.verdicts import Check


class PipelineList(OptionList, inherit_bindings=False):
    """Steps are options (id `s<index>`); the group headings are disabled options."""

    BINDINGS = LIST_BINDINGS

    class StepChosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, trace: Trace, verdicts: dict[str, Check], **kwargs) -> None:
        self.trace, self.verdicts = trace, verdicts  # the screen's verdicts for this trace, by step id
        self.title = lambda step: step.title
        self.changed: set[int] | None = None
        self.rows = outline(trace)
        self._option_of = {row.step: n for n, row in enumerate(self.rows) if row.step is not None}
        super().__init__(*(self._option(row) for row in self.rows), **kwargs)

    def _prompt(self, row: Row) -> Content:
        return Content.assemble(*row_parts(self.trace, row, self.verdicts, self.changed))

    def use(self, trace: Trace, verdicts: dict[str, Check], *, changed: set[int] | None = None,
            title=None) -> None:
        """Show another trace (a what-if edit's, or the one after training, which has no training
        steps), or hold back titles (quiz mode).

        `changed`: the steps an edit or training moved, marked ◆; `title`: how each step is named.
        """
        same = [s.id for s in trace.steps] == [s.id for s in self.trace.steps]
        self.trace, self.verdicts, self.changed = trace, verdicts, changed
        self.title = title or self.title
        self.rows = outline(trace, self.title)
        if not same:  # other steps: other options (the prompts alone would not line up)
            self._option_of = {row.step: n for n, row in enumerate(self.rows) if row.step is not None}
            with self.prevent(OptionList.OptionHighlighted):
                self.set_options(self._option(row) for row in self.rows)
            return
        for n, row in enumerate(self.rows):
            self.replace_option_prompt_at_index(n, self._prompt(row))

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
