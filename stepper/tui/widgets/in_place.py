"""Replacing a text's content without laying the whole screen out again when its size stays.

`Static.update` asks for a layout every time, and a layout re-arranges (and repaints) every widget
on the screen. Stepping from one step to the next mostly swaps text for text of the same height:
then a repaint of the widget is all that changes on screen.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def update_in_place(static: Static, content: Content) -> None:
    """`static.update(content)`, with a layout only when the height at its current width changes
    (or when it has not been laid out yet)."""
    width, height = static.content_size
    static.update(content, layout=False)
    if not width or not static.display or content_height(static, width) != height:
        static.refresh(layout=True)


def content_height(static: Static, width: int) -> int:
    """The rows `static`'s content takes at `width` (Textual's own measure, the one its layout uses)."""
    return static.get_content_height(static.parent.size if static.parent else static.size, static.app.size, width)
