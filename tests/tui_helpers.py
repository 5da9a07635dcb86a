"""What the TUI tests share: reading the screen, waiting for what it should show, walking steps.

The screen is read through Textual's public API only: each widget in view (`Screen.can_view_partial`)
at its place (`Screen.find_widget`) renders its visible part (`Widget.render_lines`), painted back to
front as Textual's compositor does. The lines come from the widgets' caches when the app has just
painted, so a read costs little; and nothing here knows stepper's widgets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from textual.errors import NoWidget
from textual.geometry import Region

from stepper.tui.screens.main import MainScreen


def _paint(app, cells: Callable[[Segment], list], blank) -> list[list]:
    """The screen as rows of cells, each cell what `cells` makes of the segment painted there."""
    screen = app.screen
    width, height = screen.size
    rows = [[blank] * width for _ in range(height)]
    placed = []
    for widget in _with_scrollbars(screen.walk_children(with_self=True)):
        try:
            geometry = screen.find_widget(widget)
        except NoWidget:  # not laid out: hidden, or not displayed
            continue
        visible = geometry.region.intersection(geometry.clip).intersection(screen.region)
        if visible:
            placed.append((geometry.order, widget, visible, geometry.region.offset))
    for _, widget, visible, offset in sorted(placed, key=lambda p: p[0]):  # the front-most painted last
        strips = widget.render_lines(visible.translate(-offset))
        for y, strip in zip(range(visible.y, visible.bottom), strips, strict=False):
            line = [cell for seg in strip if not seg.control for cell in cells(seg)][:visible.width]
            rows[y][visible.x:visible.x + len(line)] = line
    return rows


def _with_scrollbars(widgets):
    """The widgets, each followed by the scrollbars it shows (they are not among its children)."""
    for widget in widgets:
        yield widget
        vertical, horizontal = widget.scrollbars_enabled
        if vertical:
            yield widget.vertical_scrollbar
        if horizontal:
            yield widget.horizontal_scrollbar
        if vertical and horizontal:
            yield widget.scrollbar_corner


def _chars(seg: Segment) -> list[str]:
    """A segment's cells: a double-width character takes two (the second holds nothing, so a row
    joins back to its text), a combining mark joins the character before it."""
    if cell_len(seg.text) == len(seg.text):
        return list(seg.text)
    chars: list[str] = []
    for ch in seg.text:
        width = cell_len(ch)
        if width == 0 and chars:
            chars[-1] += ch
        else:
            chars.extend([ch, ""] if width == 2 else [ch])
    return chars


def screen_lines(app, region: Region | None = None) -> list[str]:
    """The characters on the terminal right now, one string per row; only `region`'s, if given."""
    rows = _paint(app, _chars, " ")
    if region is not None:
        rows = [row[region.x:region.right] for row in rows[region.y:region.bottom]]
    return ["".join(row) for row in rows]


def screen_text(app) -> str:
    """The characters on the terminal right now, one line per row."""
    return "\n".join(screen_lines(app))


def screen_cells(app) -> list[list[tuple]]:
    """Each row's cells as (character, rich Style) pairs."""
    return _paint(app, lambda seg: [(c, seg.style) for c in _chars(seg)], (" ", None))


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Let the app run until `condition()` is true; fail after `timeout` seconds (generous: under load
    the first import of torch or of plotext can take seconds). Each round lets every queued message be
    handled and the screen repaint, without `pause()`'s wait for the CPU to go idle. Wait for what is
    shown, not for a screen to be current: a screen is current before it has composed its widgets."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.01)  # first, so that what was asked before the call is handled
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")


async def steady_lines(pilot, rounds: int = 60, agree: int = 3) -> list[str]:
    """The screen's rows once it stops changing: each round handles every queued message and lays
    out and paints at once (`pause(0)`: no wait for the CPU to go idle, which a worker training in
    the background would stretch to a second), until `agree` reads in a row are the same. Not two:
    what a widget asks for after a refresh (`call_after_refresh`) may ask for one more after the
    next, and the round between can show nothing new (the outputs fitted, then "more below" marked)."""
    lines, same = None, 0
    for _ in range(rounds):
        await pilot.pause(0)
        now = screen_lines(pilot.app)
        same = same + 1 if now == lines else 1
        if same == agree:
            return now
        lines = now
    raise AssertionError(f"the screen was still changing after {rounds} rounds")


def record_notices(app) -> list[tuple[str, str]]:
    """From now on, every notice the app is asked to show, as (title, message): `App.notify` is
    public (a screen's `notify` calls it), the list Textual keeps of them is not."""
    seen: list[tuple[str, str]] = []
    show = app.notify

    def notify(message, *, title="", **options):
        seen.append((title, str(message)))
        return show(message, title=title, **options)

    app.notify = notify
    return seen


def main_screen(app) -> MainScreen:
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


async def walk_every_step(app, pilot) -> None:
    """Press `n` through the whole trace; each step must show its number and no raw -inf / nan."""
    steps = main_screen(app).trace.steps
    text = "\n".join(await steady_lines(pilot))
    for i, step in enumerate(steps):
        assert f"Step {i + 1}/{len(steps)}" in text, step.id
        assert "-inf" not in text and not re.search(r"\bnan\b", text)
        text = "\n".join(await press_and_read(pilot, "n"))


async def press_and_read(pilot, key: str) -> list[str]:
    """Deliver `key` (a letter or a digit: a name such as `question_mark` needs Pilot's own mapping)
    as the terminal driver does, and read the screen once it is steady (`steady_lines`):
    `pilot.press` would also wait for the CPU to go idle, twice."""
    from textual import events

    assert len(key) == 1 and key.isalnum(), key

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(pilot.app)
    pilot.app.post_message(event)
    return await steady_lines(pilot)


async def burst(pilot, *keys: str) -> None:
    """Press `keys` as a fast typist or a paste does: every key is queued before the first is handled
    (`pilot.press` waits for each key to settle, which hides races between them)."""
    from textual import events

    app = pilot.app
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app.post_message(event)  # as the terminal driver delivers a key
    await pilot.pause()
