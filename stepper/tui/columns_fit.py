"""How many rows rich's `Columns` takes, worked out from its items' sizes instead of rendering it.

Fitting a step's outputs tries several table sizes; rendering every try to count its rows drew each
table many times over. The arithmetic below follows `rich.columns.Columns` (items placed row by row,
as many columns as fit) and its grid (the vertical padding collapses to one gap between rows, none
at the edges); tests/test_tui_fit.py checks it against Rich's own rendering.
"""

from __future__ import annotations

Size = tuple[int, int]  # (width, height) of an item, in cells


def column_count(widths: list[int], max_width: int, gap: int) -> int:
    """Columns' own search: start with every item in one row, and while the columns' widths (each its
    widest item) and the gaps between them overflow, take as many columns as fitted before the overflow."""
    count = len(widths)
    while count > 1:
        column_widths: dict[int, int] = {}
        for k, width in enumerate(widths):
            column = k % count
            column_widths[column] = max(column_widths.get(column, 0), width)
            if sum(column_widths.values()) + gap * (len(column_widths) - 1) > max_width:
                count = len(column_widths) - 1
                break
        else:
            break
    return count


def columns_height(sizes: list[Size], max_width: int, *, row_gap: int, column_gap: int) -> int | None:
    """Rows taken by `Columns(items, padding=(row_gap, column_gap))` at `max_width`; None when an item
    is wider than the room, which Rich would squeeze (and so change its height): render to know."""
    if not sizes:
        return 0
    if any(width > max_width for width, _ in sizes):
        return None
    count = column_count([width for width, _ in sizes], max_width, column_gap)
    rows = [sizes[start:start + count] for start in range(0, len(sizes), count)]
    return sum(max(height for _, height in row) for row in rows) + row_gap * (len(rows) - 1)
