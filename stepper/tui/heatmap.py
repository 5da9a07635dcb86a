"""A labelled matrix as a rich renderable: values coloured by sign and size, cut to fit.

Only the visible corners of a big matrix are ever formatted, so a 512×2048 weight costs
no more to draw than a 4×4 one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual.color import Color

from stepper.present.labels import visible_label
from stepper.present.numbers import MatrixFormat
from stepper.roundoff import denoised
from stepper.tui.highlights import elide

LABEL_MAX = 8  # longer token labels are cut; the column is for numbers
# a vector this short is shown whole: hiding one of eight probabilities hides why they sum to 1
SHORT_VECTOR = 16


@dataclass(frozen=True)
class Palette:
    """Heatmap colours blended from the theme's own surface so they suit light and dark themes."""

    base: Color
    negative: Color = Color.parse("#3d7be0")
    positive: Color = Color.parse("#e0583d")
    sequential: Color = Color.parse("#2ea86a")
    masked: Color = Color.parse("#6b6b6b")

    def fill(self, v: float, scale: float, signed: bool) -> Color:
        if v == 0 or scale == 0:
            return self.base
        # a floor keeps the sign of tiny values visible; the rest is linear in |v|
        t = 0.14 + 0.76 * min(abs(v) / scale, 1.0)
        target = self.sequential if not signed else (self.negative if v < 0 else self.positive)
        return self.base.blend(target, t)


def _label(text: str) -> str:
    text = visible_label(text)
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


class Heatmap:
    """`values` is 1-D or 2-D; a 1-D array with row labels is drawn as a column."""

    def __init__(self, values: np.ndarray, *, rows: list[str] | None, cols: list[str] | None,
                 title: str, palette: Palette, max_width: int, max_rows: int,
                 masked: np.ndarray | None = None, marked_rows: set[int] | None = None,
                 changed: np.ndarray | None = None):
        """`changed`: after a what-if edit, True where the edit moved this cell (others fade)."""
        v = np.asarray(values)
        if v.dtype.kind == "f":  # round-off residue is 0: no colour, no sign, no width of its own
            v = denoised(v)
        if v.ndim == 0:  # a scalar (the loss) is a one-cell column with no labels
            v, rows = v.reshape(1), [""]
        if v.ndim == 1 and rows is None and cols and v.size <= SHORT_VECTOR and not _fits_in_a_row(v, cols, max_width):
            rows, cols = cols, None  # a short vector too wide for its room stands as a column, whole
        column_vector = v.ndim == 1 and rows is not None
        self.values = v.reshape(-1, 1) if column_vector else v.reshape(1, -1) if v.ndim == 1 else v
        self.masked = None if masked is None or masked.shape != self.values.shape else masked
        self.changed = None if changed is None or changed.size != self.values.size else (
            np.asarray(changed, dtype=bool).reshape(self.values.shape))
        self.fmt = MatrixFormat(self.values)
        n_rows, n_cols = self.values.shape
        self.row_labels = [_label(r) for r in rows] if rows and len(rows) == n_rows else (
            [""] if v.ndim == 1 else [str(i) for i in range(n_rows)])
        self.col_labels = [""] if column_vector else (
            [_label(c) for c in cols] if cols and len(cols) == n_cols else [str(j) for j in range(n_cols)])
        # a title never widens the table past the room it has
        self.title = title if len(title) <= max_width else title[: max(1, max_width - 1)] + "…"
        self.palette = palette
        self.column_vector = column_vector
        self.marked = marked_rows or set()
        if self.marked:
            self.row_labels = [("▸" if i in self.marked else " ") + r for i, r in enumerate(self.row_labels)]
        finite = self.values[np.isfinite(self.values)] if self.values.dtype.kind == "f" else self.values
        self.signed = bool(finite.size and finite.min() < 0)
        top = float(np.max(np.abs(finite))) if finite.size else 0.0
        # a column of whole numbers (token ids) is an index, not a quantity: no colour
        self.plain = column_vector and self.fmt.integer
        # probabilities read best on an absolute 0…1 scale, so rows can be compared by eye
        self.scale = 1.0 if (not self.signed and 0 < top <= 1) else top
        self.row_w = max(len(r) for r in self.row_labels)
        self.cell_w = max(_value_width(self.values, self.fmt), *(len(c) for c in self.col_labels))
        if self.changed is not None:
            self.cell_w += 1  # room for a `•` right before a number, with the usual space before both
        self.show_cols = columns_to_show(n_cols, max_width - self.row_w, self.cell_w + 1, _live_columns(self.values))
        short = column_vector and n_rows <= SHORT_VECTOR
        self.show_rows = list(range(n_rows)) if short else elide(n_rows, max(3, max_rows), keep=self.marked)
        self.width = max(self.row_w + sum(self.cell_w + 1 if j is not None else 2
                                          for j in self.show_cols), len(self.title))
        # the title, the column labels (a column vector has none), a line per row shown
        self.height = 1 + (0 if column_vector else 1) + len(self.show_rows)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def _cell(self, i: int, j: int) -> tuple[str, str, Style]:
        """(separator, text, style): a changed cell's number wears a `•` in front, so the ripple reads as text too."""
        text, style = self._plain_cell(i, j)
        if self.changed is None:
            return " ", text, style
        if self.changed[i, j]:
            return " ", "•" + text, style + Style(bold=True, underline=True)
        # what the edit did not reach fades, so the cells it did reach stand out
        fill = Color.from_rich_color(style.bgcolor) if style.bgcolor else self.palette.base
        bg = self.palette.base.blend(fill, 0.3)
        return " ", text, Style(bgcolor=bg.rich_color, color=(bg + bg.get_contrast_text(0.4)).rich_color)

    def _plain_cell(self, i: int, j: int) -> tuple[str, Style]:
        v = self.values[i, j]
        text = self.fmt(v)
        if self.masked is not None and self.masked[i, j]:
            bg = self.palette.base.blend(self.palette.masked, 0.55)
            return text, Style(bgcolor=bg.rich_color, color=(bg + bg.get_contrast_text(0.6)).rich_color,
                               italic=True)
        if self.plain or not np.isfinite(v):
            return text, Style(bold=not np.isfinite(v))
        bg = self.palette.fill(float(v), self.scale, self.signed)
        return text, Style(bgcolor=bg.rich_color, color=(bg + bg.get_contrast_text(0.95)).rich_color)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # each cell carries its own leading space in its colour, so the colours form one block
        bold, dim = Style(bold=True), Style(dim=True, bold=True)
        yield Segment(self.title.ljust(self.width), bold)
        yield Segment.line()
        if not self.column_vector:
            yield Segment(" " * self.row_w)
            for j in self.show_cols:
                yield Segment(" …" if j is None else " " + self.col_labels[j].rjust(self.cell_w), dim)
            yield Segment.line()
        for i in self.show_rows:
            if i is None:
                yield Segment("⋮".rjust(self.row_w) + "".join(
                    " ⋱" if j is None else " " + "⋮".rjust(self.cell_w) for j in self.show_cols), dim)
                yield Segment.line()
                continue
            label_style = Style(bold=True, reverse=True) if i in self.marked else bold
            yield Segment(self.row_labels[i].rjust(self.row_w), label_style)
            for j in self.show_cols:
                if j is None:
                    yield Segment(" …", dim)
                    continue
                sep, text, style = self._cell(i, j)
                yield Segment(sep + text.rjust(self.cell_w), style)
            yield Segment.line()


def _value_width(values: np.ndarray, fmt: MatrixFormat) -> int:
    """The characters the widest number of `values` takes in `fmt`."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if fmt.integer:
        return len(str(int(finite.max()))) if finite.size else 1
    if fmt.scientific:
        return 9
    biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
    has_inf = values.dtype.kind == "f" and bool(np.isinf(values).any())
    return max(len(f"{biggest:.3f}") + (1 if values.min() < 0 else 0), 2 if has_inf else 1)


def _fits_in_a_row(v: np.ndarray, cols: list[str], room: int) -> bool:
    """Whether a 1-D vector, one cell per label, fits `room` columns without a " …" (the test
    `columns_to_show` makes, with the cell width the table would have)."""
    cell = max(_value_width(v, MatrixFormat(v)), *(len(_label(c)) for c in cols))
    return v.size * (cell + 1) <= room


def columns_to_show(n: int, room: int, cell: int, keep: list[int] | None = None) -> list[int | None]:
    """Column indices that fit `room` cells at `cell` each; None is the " …" (two cells) for the rest.

    Unlike rows, where a ⋮ line costs as much as a row, hiding columns pays as soon as one does
    not fit: a table never runs past its room (it would be cut mid-number).
    """
    if n * cell <= room or n <= 2:  # with two columns or fewer a … would hide nothing worth its room
        return list(range(n))
    if keep:
        return _columns_keeping(n, room, cell, sorted(keep))
    fit = max(2, min(n - 1, (room - 2) // cell))  # the columns beside the …
    head = (fit + 1) // 2
    return [*range(head), None, *range(n - (fit - head), n)]


def _columns_keeping(n: int, room: int, cell: int, keep: list[int]) -> list[int | None]:
    """`columns_to_show` when some columns must show (what a top-k filter kept): those first, then
    the first columns, as room allows; a " …" for every hidden run between them."""
    for fit in range(max(1, min(n - 1, room // cell)), 0, -1):
        chosen = set(keep[:fit])
        chosen.update(j for j in range(n) if j not in chosen and len(chosen) < fit)
        out: list[int | None] = []
        previous = -1
        for j in sorted(chosen):
            if j != previous + 1:
                out.append(None)
            out.append(j)
            previous = j
        if previous != n - 1:
            out.append(None)
        if sum(cell if j is not None else 2 for j in out) <= room:
            return out
    return [keep[0], None]


def _live_columns(values: np.ndarray) -> list[int] | None:
    """When some columns are −∞ throughout (the tokens a top-k / top-p filter removed), the others:
    they are what the table is about, and must not be the ones its … hides."""
    if values.dtype.kind != "f":
        return None
    dead = np.isneginf(values).all(axis=0)
    if not dead.any() or dead.all():
        return None
    return [int(j) for j in np.flatnonzero(~dead)]
