"""The cost screen's chart: forward FLOPs against the sequence length T, both axes log₂, one line per kind
of row (present/cost_table.chart_series). Imported only when the cost screen opens: plotext is not cheap."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

COLOURS = ("red", "blue", "green")


class CostPlot(PlotextPlot):
    def __init__(self, lengths: tuple[int, ...], series: dict[str, list[int]], now: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lengths, self.series, self.now = lengths, series, now

    def on_mount(self) -> None:
        plt = self.plt
        plt.clear_figure()
        xs = [math.log2(t) for t in self.lengths]
        for (label, ys), colour in zip(self.series.items(), COLOURS, strict=False):
            plt.plot(xs, [math.log10(max(y, 1)) for y in ys], color=colour, marker="braille", label=label)
        plt.xticks(xs[::2], [str(t) for t in self.lengths[::2]])
        top = max(math.log10(max(y, 1)) for ys in self.series.values() for y in ys)
        ticks = list(range(0, math.ceil(top) + 1, 2))
        plt.yticks(ticks, [f"1e{k}" for k in ticks])
        plt.vline(math.log2(max(self.now, 1)), "cyan")  # this scenario's own T
        plt.xlabel("sequence length T")
        plt.ylabel("forward FLOPs")
