"""The step's input and output matrices as heatmaps, laid out to fit whatever width there is."""

from __future__ import annotations

import numpy as np
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.rule import Rule
from rich.segment import Segment
from rich.text import Text
from textual.cache import LRUCache
from textual.widget import Widget

from stepper.present.captions import axis_caption, head_note
from stepper.present.labels import dims
from stepper.present.provenance import made_by
from stepper.present.training_view import moved_words
from stepper.trace import Step, Tensor, Trace
from stepper.tui.columns_fit import columns_height
from stepper.tui.heatmap import Heatmap, Palette
from stepper.tui.highlights import looked_up_rows, mask_of
from stepper.tui.whatif_view import StepChanges

MAX_SLICES = 4  # a [H, T, d_k] tensor shows this many heads at most
LEGEND = Text.assemble(
    ("■ ", "#3d7be0"), ("negative  ", "dim"), ("■ ", "#e0583d"), ("positive  ", "dim"),
    ("■ ", "#2ea86a"), ("all ≥ 0  ", "dim"), ("■ ", "#8a8a8a"), ("masked  ", "dim"),
    ("· stronger = larger |value|", "dim"),
)
# what the marked cells are compared with: the original numbers (a what-if edit) or those before training
MOVED_BY = {"edit": "the what-if edit", "training": "training"}


def moved_legend(by: str) -> Text:
    return Text.assemble(("•", "bold underline"), (f" changed by {MOVED_BY[by]}; faded: unchanged", "dim"))


class MatrixLayout:
    """Builds the heatmaps only once the width is known, so elision always fits the panel."""

    def __init__(self, trace: Trace, step: Step, palette: Palette, max_rows: int, gap: int, *,
                 hidden: bool = False, changes: StepChanges | None = None, moved_by: str = "edit",
                 room: int | None = None):
        """`hidden`: a quiz is asking about the outputs; `changes`: what moved in this step against the
        original (a what-if edit's, or training's: `moved_by`); `room`: the rows in view for the
        outputs, which are then cut down (fewer rows, narrower tables side by side) to fit it."""
        self.trace, self.step, self.palette, self.max_rows, self.gap = trace, step, palette, max_rows, gap
        self.hidden, self.changes, self.moved_by, self.room = hidden, changes, moved_by, room
        self.index = next((i for i, s in enumerate(trace.steps) if s is step), None)  # where inputs come from
        # fitting the outputs builds their tables several times: what does not depend on the size, once
        self.masked = mask_of(trace, step)
        self._titles: dict[tuple[str, int], str] = {}

    def _title(self, name: str, tensor: Tensor, changed: np.ndarray | None, largest: float | None) -> str:
        key = (name, id(tensor))  # an input and an output may share a name, not a title
        if key not in self._titles:
            self._titles[key] = self._make_title(name, tensor, changed, largest)
        return self._titles[key]

    def _make_title(self, name: str, tensor: Tensor, changed: np.ndarray | None, largest: float | None) -> str:
        parts = [f"{name} {dims(tensor.shape)}"]
        if changed is not None:
            parts.append(moved_words(int(changed.sum()), largest))
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

    def _maps(self, tensors: dict[str, Tensor], width: int, side: str,
              max_rows: int | None = None) -> list[RenderableType]:
        max_rows = self.max_rows if max_rows is None else max_rows
        changes = self.changes.side(side) if self.changes is not None else {}
        largest = self.changes.largest if self.changes is not None else {}
        out: list[RenderableType] = []
        for name, tensor in tensors.items():
            value = tensor.value
            changed = changes.get(name)
            if value.ndim <= 2:
                out.append(Heatmap(value, rows=tensor.rows, cols=tensor.cols,
                                   title=self._title(name, tensor, changed, largest.get((side, name))),
                                   palette=self.palette,
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
            if label == "outputs":
                parts.append(self._fitted(console, options, tensors))
            else:
                parts.append(Columns(self._maps(tensors, width, label), padding=(self.gap, 3)))
        parts.append(LEGEND)
        if self.changes is not None:
            parts.append(moved_legend(self.moved_by))
        yield Group(*parts)

    def _fitted(self, console: Console, options: ConsoleOptions, tensors: dict[str, Tensor]) -> RenderableType:
        """The outputs, as large as the room in view allows: fewer rows first, then narrower tables
        (which then stand side by side), so that every output's first rows are on screen."""
        width = options.max_width
        # a narrower table is tried only while it keeps room for numbers; a very narrow screen gets
        # its full width, however little that is
        widths = [w for w in (width, width // 2 - 3, width // 3 - 3) if w >= 24] or [width]
        tries = [(w, r) for w in widths for r in range(max(self.max_rows, 3), 2, -1)]  # 3 rows at least
        columns = None
        for max_width, max_rows in tries:
            maps = self._maps(tensors, max_width, "outputs", max_rows)
            columns = Columns(maps, padding=(self.gap, 3))
            if self.room is None or self._height(console, options, columns, maps) <= self.room:
                break
        return columns

    def _height(self, console: Console, options: ConsoleOptions, columns: Columns,
                maps: list[RenderableType]) -> int:
        """The rows `columns` takes: from its tables' sizes, without drawing them; only a table wider
        than the room (which Rich squeezes) is drawn to count its rows, without the widget's height,
        which render_lines would pad (or crop) every table to."""
        sizes = [(m.width, m.height) if isinstance(m, Heatmap) else (m.cell_len, 1) for m in maps]
        height = columns_height(sizes, options.max_width, row_gap=self.gap, column_gap=3)
        if height is None:
            height = len(console.render_lines(columns, options.update(height=None), pad=False))
        return height


class RenderedLines:
    """A step's matrices drawn once per width, then handed out as lines: Textual asks a renderable
    for its lines twice per frame (to measure its height, then to paint), and every step's drawing
    is kept for when the learner comes back to it."""

    def __init__(self, layout: MatrixLayout, cache: LRUCache, key: tuple) -> None:
        self.layout, self.cache, self.key = layout, cache, key

    def lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        key = (*self.key, options.max_width)
        lines = self.cache.get(key)
        if lines is None:  # with no height: render_lines would pad (or crop) to the widget's
            lines = console.render_lines(self.layout, options.update(height=None), pad=False)
            self.cache[key] = lines
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines(console, options):
            yield from line
            yield Segment.line()


class MatrixView(Widget):
    CACHED = 256  # drawings kept: every step of a long scenario at a size or two

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace: Trace | None = None
        self.step: Step | None = None
        self.hidden, self.changes, self.moved_by = False, None, "edit"
        self.room: int | None = None  # rows in view below the header (StepPanel measures it)
        self._drawn: LRUCache = LRUCache(self.CACHED)

    def show(self, trace: Trace, step: Step, *, hidden: bool = False, changes: StepChanges | None = None,
             moved_by: str = "edit", room: int | None = None) -> None:
        """`room`: the rows in view for the outputs, when the panel knows them already."""
        self.trace, self.step, self.hidden, self.changes, self.moved_by = trace, step, hidden, changes, moved_by
        if room is not None:
            self.room = room
        self._redraw()

    def _redraw(self) -> None:
        """A repaint; a layout only when the new drawing's height differs from the one on screen."""
        width, height = self.content_size
        if not width:
            self.refresh(layout=True)
            return
        app = self.app
        options = app.console_options.update_width(width).update(highlight=False)
        lines = self.render().lines(app.console, options) if self.step is not None else []
        self.refresh(layout=len(lines) != height)

    def render(self) -> RenderableType:
        if self.step is None:
            return ""
        # leave room for the header, formula and details so a matrix starts on screen; on a
        # short terminal rows of matrices sit without a blank line between them
        height = self.app.size.height
        max_rows = max(4, (height - 16) // 2)
        palette, gap = Palette(self.background_colors[1]), 0 if height < 30 else 1
        layout = MatrixLayout(self.trace, self.step, palette, max_rows, gap=gap, hidden=self.hidden,
                              changes=self.changes, moved_by=self.moved_by, room=self.room)
        # by the objects themselves, not by ids that a later object may take: a drawing is never another trace's
        key = (_Same(self.trace), _Same(self.step), self.hidden, _Same(self.changes), self.moved_by, self.room,
               max_rows, gap, palette)
        return RenderedLines(layout, self._drawn, key)

    def fit(self, room: int) -> None:
        """Fit the outputs into `room` rows (less the outputs' own heading)."""
        if room != self.room:
            self.room = room
            self._redraw()


class _Same:
    """Keys a cache by an object's identity (a what-if edit's masks are dicts, unhashable), and
    holds on to it, so that its id cannot be another object's while the entry lives."""

    def __init__(self, thing: object) -> None:
        self.thing = thing

    def __hash__(self) -> int:
        return id(self.thing)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.thing is self.thing
