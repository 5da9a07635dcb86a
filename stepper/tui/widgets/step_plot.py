"""A plotext picture of one step. Imported only when a step has a plot: plotext is not cheap."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from stepper.trace import Step, Trace
from stepper.tui.plots import draw


class StepPlot(PlotextPlot):
    def __init__(self, trace: Trace, step: Step, kind: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace, self.step, self.kind = trace, step, kind

    def on_mount(self) -> None:
        # Textual also runs PlotextPlot.on_mount (handlers run along the whole MRO); that one
        # registers the theme, this one draws
        draw(self.plt, self.trace, self.step, self.kind)
