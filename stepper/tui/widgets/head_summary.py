"""The heads view's words about the head under the cursor, all from present.insight_words (the same
sentences as the markdown export's "What training did"): which attention it is (a seq2seq's), its
claim, its shares before → after training, the tokens that draw its weight (a cross-attention's: its
alignment by position too), the threshold rule; then the FFN units of its layer."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from stepper.insight.passes import sequence_of
from stepper.insight.types import HeadSummary, UnitSummary
from stepper.present import insight_words as words
from stepper.scenario.types import Example
from stepper.tui.widgets.in_place import update_in_place

PRECISION = 4


class HeadSummaryPanel(Static):
    def show(self, before: HeadSummary, after: HeadSummary, units: Sequence[UnitSummary],
             examples: Sequence[Example]) -> None:
        parts: list = []
        if after.attention in words.ATTENTION_TITLES:
            parts += [(words.ATTENTION_TITLES[after.attention], "bold $text-primary"), "\n"]
        parts += [(words.head_sentence(after, PRECISION), "bold $text-accent"), "\n",
                       (f"shares of its weight {words.rows_words(after)}, before → after training:", "$text-muted"),
                       "\n"]
        rows = words.share_rows(before, after, PRECISION)
        width = max(len(where) for where, _, _ in rows)
        for where, b, a in rows:
            parts += [("  " + where.ljust(width) + "  ", "$text-muted"), (f"{b} → ", "$text-muted"), (a, "bold"),
                      "\n"]
        seen = words.seen_words(after, PRECISION, n=3)
        if seen:
            parts += [("most weight where seen: ", "$text-muted"), (seen, "$text"), "\n"]
        if after.attention == "cross":  # its shares leave out previous/later: the alignment says more
            parts += [(words.alignment_sentence(after, PRECISION), "$text"), "\n"]
        parts += [(words.THRESHOLD_RULE, "italic $text-muted"), "\n"]
        layer_units = [u for u in units if (u.stack, u.layer) == (after.stack, after.layer)]
        if layer_units:  # an attention-only block (`ffn: false`) has none to show
            where = words.stack_layer(after.stack, after.layer)
            parts += ["\n", (f"FFN units of {where} that fire most (after training)", "bold $text-primary"), "\n"]
        for u in layer_units:
            parts += [("• ", "$text-muted"), (words.unit_sentence(u, sequence_of(examples[u.example], u.stack), PRECISION), "$text"), "\n"]
        update_in_place(self, Content.assemble(*parts))
