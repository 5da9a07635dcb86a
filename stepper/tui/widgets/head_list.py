"""The heads view's list of heads, one line each (layer-major), the one under the cursor marked: its
largest share after training and the pattern it names (present.insight_words), so the heads can be
compared at a glance. A seq2seq's heads come under a heading per attention (Encoder self-attention,
Decoder self-attention, Cross-attention)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region
from textual.widgets import Static

from stepper.insight.types import HeadSummary
from stepper.present import insight_words as words
from stepper.present.numbers import table_number
from stepper.tui.widgets.in_place import update_in_place

PRECISION = 4


class HeadList(VerticalScroll, can_focus=False):
    """Scrolls (the narrow layout gives it a few rows) to keep the cursor's head in view; ↑/↓ belong to
    the screen, which moves the cursor, so the box itself takes no focus."""

    def compose(self) -> ComposeResult:
        yield Static(id="head-lines")

    def show(self, heads: list[HeadSummary], cursor: int) -> None:
        parts: list = [("heads (↑/↓)", "bold $text-primary"), "\n"]
        line = at = 1  # the line the cursor's head is on, under the title and its headings
        for k, s in enumerate(heads):
            if s.attention in words.ATTENTION_TITLES and (k == 0 or heads[k - 1].attention != s.attention):
                parts += [(words.ATTENTION_TITLES[s.attention], "italic $text-primary"), "\n"]
                line += 1
            here = k == cursor
            if here:
                at = line
            line += 1
            mark = ("▸ " if here else "  ", "bold $text-accent")
            # under its attention's heading, the layer and head say which one it is
            name = (f"L{s.layer} h{s.head}", "bold reverse" if here else "bold")
            top = words.top_words(s)
            share = table_number(s.top_share, PRECISION)
            said = (f"  {top} {share}", "$text" if s.pattern is not None else "$text-muted")
            parts += [mark, name, said, "\n"]
        update_in_place(self.query_one("#head-lines", Static), Content.assemble(*parts))
        # a short list box (the narrow layout's) scrolls to keep the cursor's head in view, with the
        # heading above it when there is room
        self.call_after_refresh(self.scroll_to_region, Region(0, max(at - 1, 0), 1, 2), animate=False,
                                immediate=True)
