"""One step of a diff: each output as A, B and Δ = B − A heatmaps side by side."""

from __future__ import annotations

from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.text import Text
from textual.widget import Widget

from stepper.diff import StepDiff
from stepper.present.labels import dims
from stepper.present.numbers import lone_number
from stepper.trace import Step
from stepper.tui.heatmap import Heatmap, Palette

ONLY = {"a": "Only A has this step: B's scenario leaves it out, so there is nothing to pair it with.",
        "b": "Only B has this step: A's scenario leaves it out, so there is nothing to pair it with."}


class DiffLayout:
    """Built once the width is known, like the stepper's own matrices."""

    def __init__(self, step: Step, pair: StepDiff | None, side: str, palette: Palette, max_rows: int):
        self.step, self.pair, self.side, self.palette, self.max_rows = step, pair, side, palette, max_rows

    def _map(self, values, title: str, width: int, tensor) -> Heatmap:
        return Heatmap(values, rows=tensor.rows, cols=tensor.cols, title=title, palette=self.palette,
                       max_width=width, max_rows=self.max_rows)

    def _flat(self, values):
        # the heads of a [H, T, d] tensor sit one under another: a diff reads best as one table
        return values.reshape(-1, values.shape[-1]) if values.ndim > 2 else values

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        # three tables share a row when they fit; otherwise Columns wraps them
        cell = max(24, (width - 6) // 3)
        parts: list[RenderableType] = []
        if self.pair is None:
            parts.append(Text(ONLY[self.side], style="bold"))
            for name, t in self.step.outputs.items():
                label = self.side.upper()
                parts.append(self._map(self._flat(t.value), f"{label}: {name} {dims(t.shape)}", width, t))
            yield Group(*parts)
            return
        for out in self.pair.outputs:
            t = self.step.outputs[out.name]
            size = out.size(lambda x: "∞" if x == float("inf") else lone_number(x))  # "—": nothing to subtract
            parts.append(Rule(Text(f"{out.name} {dims(t.shape)} · max |Δ| = {size}", style="bold"),
                              align="left", style="dim"))
            if out.b is None or out.delta is None:
                parts.append(Text(out.note or "no entry-wise difference", style="italic"))
                parts.append(self._map(self._flat(out.a), f"A: {out.name}", cell, t))
                continue
            maps = [self._map(self._flat(out.a), f"A: {out.name}", cell, t),
                    self._map(self._flat(out.b), f"B: {out.name}", cell, t),
                    self._map(self._flat(out.delta), "Δ = B − A", cell, t)]
            parts.append(Columns(maps, padding=(0, 3)))
            if out.note:
                parts.append(Text(out.note, style="italic dim"))
        yield Group(*parts)


class DiffView(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layout_args: tuple | None = None

    def show(self, step: Step, pair: StepDiff | None, side: str) -> None:
        self.layout_args = (step, pair, side)
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        if self.layout_args is None:
            return ""
        max_rows = max(4, (self.app.size.height - 12) // 2)
        return DiffLayout(*self.layout_args, Palette(self.background_colors[1]), max_rows)
