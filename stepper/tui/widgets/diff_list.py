"""The diff's step list: A's pipeline with each step's max |B − A|, then the steps only B has."""

from __future__ import annotations

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stepper.diff import TraceDiff
from stepper.present.numbers import lone_number
from stepper.present.outline import HEADINGS, outline
from stepper.trace import Trace
from stepper.tui.bindings import LIST_BINDINGS
from stepper.tui.parts import HEADER_STYLE

BADGE_W = 7


def badge(max_abs: float | None) -> tuple[str, str]:
    """(text, style) in a fixed width: `=` for identical, the size of the difference, or `A only`."""
    if max_abs is None:
        return "A only".rjust(BADGE_W), "bold $text-warning"
    if max_abs == 0:
        return "=".rjust(BADGE_W), "$text-muted"
    if max_abs == float("inf"):
        text = "∞"
    else:  # 7 characters at most: 0.6137, 0.0018, 4.7e-05
        text = lone_number(max_abs) if 1e-3 <= max_abs < 1e4 else f"{max_abs:.1e}"
    return text[:BADGE_W].rjust(BADGE_W), "bold $text-accent"


class DiffList(OptionList, inherit_bindings=False):
    """Options `a<i>` are A's steps (paired or only in A), `b<j>` the steps only B has."""

    BINDINGS = LIST_BINDINGS

    class Chosen(Message):
        def __init__(self, entry: int) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, a: Trace, b: Trace, diff: TraceDiff, **kwargs) -> None:
        by_id = {sd.step_id: sd.max_abs for sd in diff.paired}
        options: list[Option] = []
        self.entries: list[tuple[str, int]] = []  # ("a" | "b", step index), in list order
        for row in outline(a):
            if row.step is None:
                options.append(Option(Content.assemble(" " * row.depth, (row.text, HEADER_STYLE[row.kind])),
                                      disabled=True))
                continue
            text, style = badge(by_id.get(a.steps[row.step].id))
            options.append(Option(Content.assemble((text, style), " " * row.depth, row.text),
                                  id=f"e{len(self.entries)}"))
            self.entries.append(("a", row.step))
        only_b = [b.index_of(step_id) for step_id in diff.only_b]
        if only_b:
            options.append(Option(Content.styled(f"ONLY IN B ({len(only_b)})", HEADER_STYLE["phase"]),
                                  disabled=True))
        for j in only_b:
            step = b.steps[j]
            options.append(Option(Content.assemble(("B only".rjust(BADGE_W), "bold $text-warning"), " ",
                                                   f"{step.title} ({HEADINGS.get(step.phase, step.phase)})"),
                                  id=f"e{len(self.entries)}"))
            self.entries.append(("b", j))
        self._option_of = {int(o.id[1:]): n for n, o in enumerate(options) if o.id}
        super().__init__(*options, **kwargs)

    def show_entry(self, entry: int) -> None:
        option = self._option_of[entry]
        if self.highlighted != option:
            with self.prevent(OptionList.OptionHighlighted):
                self.highlighted = option

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(int(event.option.id[1:])))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(int(event.option.id[1:])))
