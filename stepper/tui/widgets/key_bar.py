"""The keys of the screen, on its bottom row as text: what Textual's compact Footer shows, drawn the
way the first frame's picture of it is drawn (startup/key_bar_preview.py).

Textual's Footer mounts one widget per key and, whenever the screen's bindings change (each `t`,
each return from another screen, each focus change), throws them all away and mounts them again: on
the sentiment scenario that was half of what a `t` or an `esc` cost (benchmarks/training_views.py).
This bar replaces the text of its two Statics (side by side on one row) instead. A click on a key presses it, as on the Footer;
on a key the screen cannot use now (drawn dim), it rings the bell.
"""

from __future__ import annotations

from itertools import groupby

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from stepper.tui.widgets.in_place import update_in_place

KEY_STYLE = "bold $footer-key-foreground"
WORDS_STYLE = "$footer-description-foreground"
OFF_STYLE = "$text-disabled"  # a key the screen shows but cannot use right now
# kept when the keys are more than the row holds (the way out of a screen, help and quit): the others
# are dropped from the end, and "…" says so
KEPT = ("close", "dismiss", "cancel", "help", "quit")
MORE = "…"

# one piece of the bar's text: its words, their style, the binding a click on them presses, and
# whether that binding may be used now
Piece = tuple[str, str, Binding | None, bool]
Item = list[Piece]  # a key and its words, or a group's keys and their shared words


def key_items(bindings: list[tuple[Binding, bool]], key_display) -> list[Item]:
    """What the compact Footer shows for `bindings` (each with whether it is enabled), item by item:
    the first binding of each action; keys grouped under one description share its words."""
    first: dict[str, tuple[Binding, bool]] = {}
    for binding, enabled in bindings:
        if binding.show:
            first.setdefault(binding.action, (binding, enabled))

    def key(binding: Binding, enabled: bool) -> Piece:
        return key_display(binding), KEY_STYLE if enabled else OFF_STYLE, binding, enabled

    items: list[Item] = []
    for group, members in groupby(first.values(), key=lambda m: m[0].group):
        members = list(members)
        if group is not None and len(members) > 1:
            item: Item = []
            for n, (binding, enabled) in enumerate(members):
                item += [(" ", "", None, False)] if n else []
                item.append(key(binding, enabled))
            items.append([*item, (f" {group.description}", WORDS_STYLE, None, False)])
        else:
            items += [[key(binding, enabled),
                       (f" {binding.description}", WORDS_STYLE if enabled else OFF_STYLE, binding, enabled)]
                      for binding, enabled in members]
    return items


def fitted(items: list[Item], width: int | None) -> list[Piece]:
    """The items one space apart; when they are wider than `width`, the last of those not KEPT are
    dropped until they fit with a "…" where they were (whole items: never a key cut in two)."""
    def joined(chosen: list[Item]) -> list[Piece]:
        out: list[Piece] = []
        for n, item in enumerate(chosen):
            out += ([(" ", "", None, False)] if n else []) + item
        return out

    def wide(pieces: list[Piece]) -> int:
        return sum(cell_len(p[0]) for p in pieces)

    kept: list[Item] = []
    others: list[Item] = []
    for item in items:
        (kept if any(p[2] is not None and p[2].action in KEPT for p in item) else others).append(item)
    every = joined(items)
    if width is None or wide(every) <= width:
        return every
    while others:
        others.pop()
        pieces = joined([*others, [(MORE, WORDS_STYLE, None, False)], *kept])
        if wide(pieces) <= width:
            return pieces
    return joined([[(MORE, WORDS_STYLE, None, False)], *kept])


def picture(pieces: list[Piece]) -> Content:
    return Content.assemble(*((text, style) for text, style, _, _ in pieces))


def palette_words(binding: Binding, key_display, enabled: bool = True) -> Content:
    """The command palette's key and words, on the right of the bar."""
    return Content.assemble((key_display(binding), KEY_STYLE if enabled else OFF_STYLE), " ",
                            (binding.description, WORDS_STYLE if enabled else OFF_STYLE))


class KeyBar(Horizontal):
    """The screen's active keys (left) and the command palette's key (right, hidden under 100 columns
    by the class `-no-palette`), kept up to date from the screen's `bindings_updated_signal`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pieces: list[Piece] = []
        self._palette: tuple[Binding, bool] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="footer-keys")
        yield Static(id="footer-palette")

    def on_mount(self) -> None:
        # the keys are first drawn on the first Resize (below), once the width they must fit is known
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self.call_after_refresh(self.show_keys)  # the keys that fit depend on the width

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.show_keys()

    def show_keys(self) -> None:
        if not self.is_attached:
            return
        active = self.screen.active_bindings
        palette_key = self.app.COMMAND_PALETTE_BINDING
        shown = [(binding, enabled) for key, (_, binding, enabled, _) in active.items() if key != palette_key]
        keys = self.query_one("#footer-keys", Static)
        self._pieces = fitted(key_items(shown, self.app.get_key_display), keys.content_size.width or None)
        update_in_place(keys, picture(self._pieces))
        palette = active.get(palette_key) if self.app.ENABLE_COMMAND_PALETTE else None
        self._palette = (palette[1], palette[2]) if palette is not None else None
        words = Content() if self._palette is None else palette_words(
            self._palette[0], self.app.get_key_display, self._palette[1])
        update_in_place(self.query_one("#footer-palette", Static), words)

    def on_click(self, event: events.Click) -> None:
        """A click on a key or its own words presses that key (the bell, if it cannot be used now); a
        click between keys, or on words a group of keys shares, does nothing."""
        if event.widget is self.query_one("#footer-palette"):
            pressed = self._palette
        else:
            pressed = self._binding_at(event.screen_x - self.query_one("#footer-keys").region.x)
        if pressed is None:
            return
        binding, enabled = pressed
        if enabled:
            self.app.simulate_key(binding.key)
        else:
            self.app.bell()

    def _binding_at(self, x: int) -> tuple[Binding, bool] | None:
        start = 0
        for text, _, binding, enabled in self._pieces:
            end = start + cell_len(text)
            if start <= x < end:
                return (binding, enabled) if binding is not None else None
            start = end
        return None
