"""The step's input and output matrices as heatmaps, laid out to fit whatever width there is."""

from __future__ import annotations

import numpy as np
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.text import Text
from textual.widget import Widget

from stepper.present.captions import axis_caption, head_note
from stepper.present.labels import dims
from stepper.present.provenance import made_by
from stepper.trace import Step, Tensor, Trace
from stepper.tui.heatmap import Heatmap, Palette
from stepper.tui.highlights import looked_up_rows, mask_of

MAX_SLICES = 4  # a [H, T, d_k] tensor shows this many heads at most
LEGEND = Text.assemble(
    ("■ ", "#3d7be0"), ("negative  ", "dim"), ("■ ", "#e0583d"), ("positive  ", "dim"),
    ("■ ", "#2ea86a"), ("all ≥ 0  ", "dim"), ("■ ", "#8a8a8a"), ("masked  ", "dim"),
    ("· stronger = larger |value|", "dim"),
)
WHATIF_LEGEND = Text.assemble(("•", "bold underline"), (" changed by the what-if edit; faded: unchanged", "dim"))


class MatrixLayout:
    """Builds the heatmaps only once the width is known, so elision always fits the panel."""

    def __init__(self, trace: Trace, step: Step, palette: Palette, max_rows: int, gap: int, *,
                 hidden: bool = False, changes: dict[str, dict[str, np.ndarray]] | None = None,
                 room: int | None = None):
        """`hidden`: a quiz is asking about the outputs; `changes`: a what-if edit's cell masks,
        {"inputs": {name: mask}, "outputs": {name: mask}}; `room`: the rows in view for the
        outputs, which are then cut down (fewer rows, narrower tables side by side) to fit it."""
        self.trace, self.step, self.palette, self.max_rows, self.gap = trace, step, palette, max_rows, gap
        self.hidden, self.changes, self.room = hidden, changes, room
        self.index = next((i for i, s in enumerate(trace.steps) if s is step), None)  # where inputs come from
        # fitting the outputs builds their tables several times: what does not depend on the size, once
        self.masked = mask_of(trace, step)
        self._titles: dict[tuple[str, int], str] = {}

    def _title(self, name: str, tensor: Tensor, changed: np.ndarray | None) -> str:
        key = (name, id(tensor))  # an input and an output may share a name, not a title
        if key not in self._titles:
            self._titles[key] = self._make_title(name, tensor, changed)
        return self._titles[key]

    def _make_title(self, name: str, tensor: Tensor, changed: np.ndarray | None) -> str:
        parts = [f"{name} {dims(tensor.shape)}"]
        if changed is not None:
            parts.append(f"{int(changed.sum())} changed" if changed.any() else "unchanged")
        if tensor.is_param:
            parts.append("parameter")
        elif name in self.step.inputs and self.index is not None and (
                made := made_by(self.trace, self.index, tensor, titled=True)):
            # one symbol (X, Y, dY…) names different arrays in different steps: say which one this is;
            # early in the title, so a narrow panel cuts the captions, not the step number
            parts.append(made)
        for extra in (head_note(self.step, tensor), axis_caption(self.step, tensor)):
            if extra:
                parts.append(extra)
        return " · ".join(parts)

    def _maps(self, tensors: dict[str, Tensor], width: int, changes: dict[str, np.ndarray],
              max_rows: int | None = None) -> list[RenderableType]:
        max_rows = self.max_rows if max_rows is None else max_rows
        out: list[RenderableType] = []
        for name, tensor in tensors.items():
            value = tensor.value
            changed = changes.get(name)
            if value.ndim <= 2:
                out.append(Heatmap(value, rows=tensor.rows, cols=tensor.cols,
                                   title=self._title(name, tensor, changed), palette=self.palette,
                                   max_width=width, max_rows=max_rows, masked=self.masked,
                                   marked_rows=looked_up_rows(self.step, tensor), changed=changed))
                continue
            # higher-rank tensors (the heads side by side) are shown one leading slice at a time
            n = value.shape[0]
            picks = list(range(n)) if n <= MAX_SLICES else [*range(MAX_SLICES - 1), n - 1]
            for k in picks:
                title = f"{name}[{k}] {dims(value[k].shape)} of {dims(tensor.shape)}"
                out.append(Heatmap(value[k].reshape(value.shape[1], -1), rows=tensor.rows, cols=tensor.cols,
                                   title=title, palette=self.palette, max_width=width,
                                   max_rows=max_rows, changed=None if changed is None else changed[k]))
            if n > MAX_SLICES:
                out.insert(len(out) - 1, Text(f"… {n - MAX_SLICES} more", style="dim"))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        parts: list[RenderableType] = []
        # outputs first: the step's result is what its lesson is about, and must not wait below the
        # fold behind its inputs (those were on screen, as outputs, at the steps that made them)
        for label, tensors in (("outputs", self.step.outputs), ("inputs", self.step.inputs)):
            if not tensors:
                continue
            parts.append(Rule(Text(label, style="bold"), align="left", style="dim"))
            if label == "outputs" and self.hidden:
                parts.append(Text("hidden until you answer the question", style="italic dim"))
                continue
            changes = (self.changes or {}).get(label, {})
            if label == "outputs":
                parts.append(self._fitted(console, options, tensors, changes))
            else:
                parts.append(Columns(self._maps(tensors, width, changes), padding=(self.gap, 3)))
        parts.append(LEGEND)
        if self.changes is not None:
            parts.append(WHATIF_LEGEND)
        yield Group(*parts)


    def _fitted(self, console: Console, options: ConsoleOptions, tensors: dict[str, Tensor],
                changes: dict[str, np.ndarray]) -> RenderableType:
        """The outputs, as large as the room in view allows: fewer rows first, then narrower tables
        (which then stand side by side), so that every output's first rows are on screen."""
        width = options.max_width
        # measured without the widget's height: given one, render_lines pads (or crops) to it, and
        # every table would seem to need all the rows there are
        measure = options.update(height=None)
        # a narrower table is tried only while it keeps room for numbers; a very narrow screen gets
        # its full width, however little that is
        widths = [w for w in (width, width // 2 - 3, width // 3 - 3) if w >= 24] or [width]
        tries = [(w, r) for w in widths for r in range(max(self.max_rows, 3), 2, -1)]  # 3 rows at least
        columns = None
        for max_width, max_rows in tries:
            columns = Columns(self._maps(tensors, max_width, changes, max_rows), padding=(self.gap, 3))
            if self.room is None or len(console.render_lines(columns, measure, pad=False)) <= self.room:
                break
        return columns


class MatrixView(Widget):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace: Trace | None = None
        self.step: Step | None = None
        self.hidden, self.changes = False, None
        self.room: int | None = None  # rows in view below the header (StepPanel measures it)

    def show(self, trace: Trace, step: Step, *, hidden: bool = False,
             changes: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        self.trace, self.step, self.hidden, self.changes = trace, step, hidden, changes
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        if self.step is None:
            return ""
        # leave room for the header, formula and details so a matrix starts on screen; on a
        # short terminal rows of matrices sit without a blank line between them
        height = self.app.size.height
        max_rows = max(4, (height - 16) // 2)
        return MatrixLayout(self.trace, self.step, Palette(self.background_colors[1]), max_rows,
                            gap=0 if height < 30 else 1, hidden=self.hidden, changes=self.changes, room=self.room)

    def fit(self, room: int) -> None:
        """Fit the outputs into `room` rows (less the outputs' own heading)."""
        if room != self.room:
            self.room = room
            self.refresh(layout=True)
