"""The keys of the screen on screen, in one line of text at the bottom: what Textual's compact Footer
shows, drawn the way the first frame's picture of it is drawn (startup/footer_preview.py).

Textual's Footer mounts one widget per key and, whenever the screen's bindings change (each `t`,
each return from another screen, each focus change), throws them all away and mounts them again: on
the sentiment scenario that was half of what a `t` or an `esc` cost (benchmarks/training_views.py).
This bar rewrites two lines of text instead. A click on a key presses it, as on the Footer.
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

# one piece of the bar's text: its words, their style, and the binding a click on them presses
Piece = tuple[str, str, Binding | None]


def key_pieces(bindings: list[tuple[Binding, bool]], key_display) -> list[Piece]:
    """What the compact Footer shows for `bindings` (each with whether it is enabled), as pieces of text:
    the first binding of each action; keys grouped under one description share its words."""
    first: dict[str, tuple[Binding, bool]] = {}
    for binding, enabled in bindings:
        if binding.show:
            first.setdefault(binding.action, (binding, enabled))
    pieces: list[Piece] = []

    def key(binding: Binding, enabled: bool) -> Piece:
        return key_display(binding), KEY_STYLE if enabled else OFF_STYLE, binding

    for group, members in groupby(first.values(), key=lambda m: m[0].group):
        members = list(members)
        if group is not None and len(members) > 1:
            for n, (binding, enabled) in enumerate(members):
                pieces += [(" ", "", None)] if n else []
                pieces.append(key(binding, enabled))
            pieces.append((f" {group.description}", WORDS_STYLE, None))
        else:
            for n, (binding, enabled) in enumerate(members):
                pieces += [(" ", "", None)] if n else []
                words = (f" {binding.description}", WORDS_STYLE if enabled else OFF_STYLE, binding)
                pieces += [key(binding, enabled), words]
        pieces.append((" ", "", None))
    return pieces[:-1]


def picture(pieces: list[Piece]) -> Content:
    return Content.assemble(*((text, style) for text, style, _ in pieces))


class KeyBar(Horizontal):
    """The screen's active keys (left) and the command palette's key (right, hidden under 100 columns
    by the class `-no-palette`), kept up to date from the screen's `bindings_updated_signal`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pieces: list[Piece] = []
        self._palette: Binding | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="footer-keys")
        yield Static(id="footer-palette")

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.show_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.show_keys()

    def show_keys(self) -> None:
        if not self.is_attached:
            return
        active = self.screen.active_bindings
        palette_key = self.app.COMMAND_PALETTE_BINDING
        shown = [(binding, enabled) for key, (_, binding, enabled, _) in active.items() if key != palette_key]
        self._pieces = key_pieces(shown, self.app.get_key_display)
        update_in_place(self.query_one("#footer-keys", Static), picture(self._pieces))
        palette = active.get(palette_key) if self.app.ENABLE_COMMAND_PALETTE else None
        self._palette = palette[1] if palette is not None else None
        words = Content() if self._palette is None else Content.assemble(
            (self.app.get_key_display(self._palette), KEY_STYLE), " ", (self._palette.description, WORDS_STYLE))
        update_in_place(self.query_one("#footer-palette", Static), words)

    def on_click(self, event: events.Click) -> None:
        """A click on a key or its words presses that key; a click between keys does nothing."""
        if event.widget is self.query_one("#footer-palette"):
            binding = self._palette
        else:
            binding = self._binding_at(event.screen_x - self.query_one("#footer-keys").region.x)
        if binding is not None:
            self.app.simulate_key(binding.key)

    def _binding_at(self, x: int) -> Binding | None:
        start = 0
        for text, _, binding in self._pieces:
            end = start + cell_len(text)
            if start <= x < end:
                return binding
            start = end
        return None
