"""One trained head's attention map over one example of the data set, drawn as the stepper draws
a softmax step's A: rows the query tokens, columns the keys (a cross-attention's: the source tokens),
each row summing to 1."""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from stepper.insight.types import HeadSummary
from stepper.present import insight_words as words
from stepper.present.labels import visible_token
from stepper.tui.heatmap import Heatmap, Palette

MAX_ROWS = 16


class AttentionMap(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.head: HeadSummary | None = None
        self.example = 0
        self.label = ""

    def show(self, head: HeadSummary, example: int, label: str) -> None:
        """`label`: what the example is (its class), shown after its tokens."""
        self.head, self.example, self.label = head, example, label
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        if self.head is None:
            return Text("")
        tokens = self.head.examples[self.example]
        keys = self.head.keys[self.example]
        n = len(self.head.examples)
        what = " ".join(visible_token(t) for t in tokens)
        if keys != tokens:
            what = f"{what} (keys: {' '.join(visible_token(t) for t in keys)})"
        title = (f"{words.head_label(self.head)} · example {self.example} (0–{n - 1}, ←/→): "
                 + what + (f" → {self.label}" if self.label else ""))
        return Heatmap(np.asarray(self.head.maps[self.example], dtype=np.float64), rows=tokens, cols=keys,
                       title=title, palette=Palette(self.background_colors[1]),
                       max_width=max(20, self.size.width or 80), max_rows=MAX_ROWS)

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.head is None:
            return 1
        # the title, the keys' line and one line per query row (a long example is cut to MAX_ROWS)
        return 2 + min(len(self.head.examples[self.example]), MAX_ROWS + 1)
