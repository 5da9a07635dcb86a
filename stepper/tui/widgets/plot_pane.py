"""The training screen's pictures, each a legend over its plot (`PlotPane`), stacked in `PlotPanes`.

A plotext plot squeezed below MIN_PLOT_ROWS rows shows its axes and little else, so when the room
the panes get cannot give each one that many, they are shown one at a time (`-one`), the one shown
marked `-shown`; `next_pane` moves on to the next (the screen's `v`)."""

from __future__ import annotations

from textual import events
from textual.containers import Vertical

MIN_PLOT_ROWS = 6  # the plot's own rows, its axis labels included; its legend takes one more


class PlotPane(Vertical):
    """One picture: its legend line, then its plot."""


class PlotPanes(Vertical):
    def __init__(self, *children, **kwargs) -> None:
        super().__init__(*children, **kwargs)
        self.shown = 0

    @property
    def one_at_a_time(self) -> bool:
        return self.has_class("-one")

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        panes = list(self.query_children(PlotPane))
        if not panes or not self.size.height:
            return
        room = self.size.height - sum(c.outer_size.height for c in self.children if not isinstance(c, PlotPane))
        self.set_class(room < len(panes) * (MIN_PLOT_ROWS + 1), "-one")
        for k, pane in enumerate(panes):
            pane.set_class(k == self.shown % len(panes), "-shown")

    def next_pane(self) -> None:
        self.shown += 1
        self.fit()
