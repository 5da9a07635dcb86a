"""The key bar's picture for the first frame: the same keys and words as the main screen's KeyBar
(widgets/key_bar.py), for the main screen's bindings, which the preview screen does not have."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from stepper.tui.widgets.key_bar import fitted, key_items, palette_words, picture


class KeyBarPreview(Horizontal):
    def __init__(self, bindings: list[Binding], palette: Binding, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bindings, self.palette = bindings, palette

    def compose(self) -> ComposeResult:
        display = self.app.get_key_display
        yield Static(picture(fitted(self._items(), None)), id="footer-keys")
        yield Static(palette_words(self.palette, display), id="footer-palette")

    def _items(self):
        return key_items([(b, True) for b in self.bindings], self.app.get_key_display)

    def on_resize(self) -> None:
        """Fitted to the width as the key bar fits its keys, once the width is known."""
        keys = self.query_one("#footer-keys", Static)
        if keys.content_size.width:
            keys.update(picture(fitted(self._items(), keys.content_size.width)))
