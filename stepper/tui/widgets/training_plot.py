"""One of the training screen's pictures (training_draw.py), redrawn when the cursor moves. Imported
only when the training screen opens: plotext is not cheap."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from stepper.trace import TrainingLog
from stepper.tui.training_draw import draw


class TrainingPlot(PlotextPlot):
    def __init__(self, log: TrainingLog, kind: str, cursor: int, clip: float | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.training_log, self.kind, self.cursor, self.clip = log, kind, cursor, clip

    def on_mount(self) -> None:
        # Textual also runs PlotextPlot.on_mount (it registers the theme); this one draws
        draw(self.plt, self.training_log, self.kind, self.cursor, self.clip)

    def move(self, cursor: int) -> None:
        self.cursor = cursor
        draw(self.plt, self.training_log, self.kind, cursor, self.clip)
        self.refresh()
