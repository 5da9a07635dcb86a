"""The heads view's list of heads, one line each (layer-major), the one under the cursor marked: its
largest share after training and the pattern it names (present.insight_words), so the heads can be
compared at a glance. A seq2seq's heads come under a heading per attention (Encoder self-attention,
Decoder self-attention, Cross-attention)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from stepper.insight.types import HeadSummary
from stepper.present import insight_words as words
from stepper.present.numbers import table_number
from stepper.tui.widgets.in_place import update_in_place

PRECISION = 4


class HeadList(Static):
    def show(self, heads: list[HeadSummary], cursor: int) -> None:
        parts: list = [("heads (↑/↓)", "bold $text-primary"), "\n"]
        for k, s in enumerate(heads):
            if s.attention in words.ATTENTION_TITLES and (k == 0 or heads[k - 1].attention != s.attention):
                parts += [(words.ATTENTION_TITLES[s.attention], "italic $text-primary"), "\n"]
            here = k == cursor
            mark = ("▸ " if here else "  ", "bold $text-accent")
            # under its attention's heading, the layer and head say which one it is
            name = (f"L{s.layer} h{s.head}", "bold reverse" if here else "bold")
            top = words.top_words(s)
            share = table_number(s.top_share, PRECISION)
            said = (f"  {top} {share}", "$text" if s.pattern is not None else "$text-muted")
            parts += [mark, name, said, "\n"]
        update_in_place(self, Content.assemble(*parts))
