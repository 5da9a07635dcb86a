"""Numbers, labels and arrays as GitHub-flavoured markdown.

Everything here is about making a table that a person can read and GitHub renders: numbers at a
fixed count of significant digits (present.numbers.table_number), labels that cannot break the table or turn into HTML, and big
arrays cut down to their corners instead of being dumped whole.
"""

from __future__ import annotations

import re

import numpy as np

from stepper.present.labels import visible_label, visible_token
from stepper.present.numbers import table_number
from stepper.roundoff import scale_of

# an array larger than this on either axis is shown by its corners; the JSON export is the full record
MAX_ROWS = 16
MAX_COLS = 16
EDGE = 6  # leading rows/columns kept when eliding (plus the last one, so the reader sees where it ends)
MAX_HEADS = 4  # a [H, …] array shows at most this many heads


def text(s: str) -> str:
    """Plain text safe inside a table cell: no HTML tags, no stray emphasis, no column breaks."""
    s = re.sub(r"([\\|<>*`~\[\]])", r"\\\1", s)
    s = re.sub(r"&(?=#?\w+;)", r"\\&", s)  # only an `&` that would start an entity needs escaping
    # an underscore inside a word (W_Q, d_k) never starts emphasis in GFM, so it stays readable as is
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)


def label(s: str) -> str:
    """A row/column label; whitespace tokens get visible stand-ins (the rule of `visible_label`)."""
    return text(visible_label(s) or "∅")


def token(s: str) -> str:
    """One token as inline code that shows a space token and survives a backtick inside it."""
    s = visible_token(s) or "∅"
    return f"`` {s} ``".replace("|", "\\|") if "`" in s else code(s)


def token_list(tokens: list[str]) -> str:
    return " ".join(token(t) for t in tokens)


def code(s: str) -> str:
    """Inline code that survives inside a table (GitHub splits cells on `|` even within code)."""
    return "`" + s.replace("|", "\\|") + "`"


def _keep(n: int, limit: int) -> list[int | None]:
    """Indices to show along an axis of length n; None marks the elided run."""
    if n <= limit:
        return list(range(n))
    return [*range(EDGE), None, n - 1]


def table(corner: str, value: np.ndarray, rows: list[str] | None, cols: list[str] | None,
          precision: int) -> tuple[str, str | None]:
    """A 0-, 1- or 2-D array as a markdown table, and a note when part of it was left out."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 1:  # a vector reads best as one row, whichever axis its labels came from
        value, cols = value[None, :], cols or rows
        row_cells = [corner]
        corner = ""
    else:
        row_cells = [label(r) for r in rows] if rows and len(rows) == value.shape[0] else None
    scale = scale_of(value)
    n_rows, n_cols = value.shape
    row_cells = row_cells or [str(i) for i in range(n_rows)]
    cols = cols if cols and len(cols) == n_cols else [str(j) for j in range(n_cols)]
    keep_r, keep_c = _keep(n_rows, MAX_ROWS), _keep(n_cols, MAX_COLS)
    header = [corner] + ["⋯" if j is None else label(cols[j]) for j in keep_c]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * len(keep_c)) + "|"]
    for i in keep_r:
        if i is None:
            cells = ["⋮"] + ["⋮" if j is not None else "⋱" for j in keep_c]
        else:
            cells = [row_cells[i]] + ["⋯" if j is None else table_number(value[i, j], precision, scale) for j in keep_c]
        lines.append("| " + " | ".join(cells) + " |")
    shown = []
    if None in keep_r:
        shown.append(f"{len(keep_r) - 1} of {n_rows} rows")
    if None in keep_c:
        shown.append(f"{len(keep_c) - 1} of {n_cols} " + ("entries" if corner == "" else "columns"))
    note = (f"Showing {' and '.join(shown)}; the JSON export (`--format json`) has every entry."
            if shown else None)
    return "\n".join(lines), note
