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
        lines: list[list] = [[("heads (↑/↓)", "bold $text-primary")]]
        at = 0  # the cursor's head's line
        for k, s in enumerate(heads):
            if s.attention in words.ATTENTION_TITLES and (k == 0 or heads[k - 1].attention != s.attention):
                lines.append([(words.ATTENTION_TITLES[s.attention], "italic $text-primary")])
            here = k == cursor
            at = len(lines) if here else at
            mark = ("▸ " if here else "  ", "bold $text-accent")
            # under its attention's heading, the layer and head say which one it is
            name = (f"L{s.layer} h{s.head}", "bold reverse" if here else "bold")
            top = words.top_words(s)
            share = table_number(s.top_share, PRECISION)
            said = (f"  {top} {share}", "$text" if s.pattern is not None else "$text-muted")
            lines.append([mark, name, said])
        text = self.query_one("#head-lines", Static)
        update_in_place(text, Content("\n").join(Content.assemble(*line) for line in lines))
        self.call_after_refresh(self._keep_in_view, lines, at)

    def _keep_in_view(self, lines: list[list], at: int) -> None:
        """Scroll a short list box (the narrow layout's) to the cursor's head and the line above it (its
        heading, or the head before), counting the rows each line takes once wrapped (a long share does
        wrap in the wide layout's 34 columns); the first head brings the title back too."""
        width = self.query_one("#head-lines", Static).content_size.width
        if not width:
            return
        rows = [Content.assemble(*line).get_height({}, width) for line in lines]
        top = 0 if at <= 2 else sum(rows[:at - 1])
        self.scroll_to_region(Region(0, top, 1, sum(rows[:at + 1]) - top), animate=False, immediate=True)
