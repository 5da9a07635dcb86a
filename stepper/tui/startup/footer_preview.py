"""The key bar's picture for the first frame: the same keys and words as the main screen's KeyBar
(widgets/key_bar.py), for the main screen's bindings, which the preview screen does not have."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from stepper.tui.widgets.key_bar import KEY_STYLE, WORDS_STYLE, key_pieces, picture


class FooterPreview(Horizontal):
    def __init__(self, bindings: list[Binding], palette: Binding, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bindings, self.palette = bindings, palette

    def compose(self) -> ComposeResult:
        display = self.app.get_key_display
        yield Static(picture(key_pieces([(b, True) for b in self.bindings], display)), id="footer-keys")
        yield Static(Content.assemble((display(self.palette), KEY_STYLE), " ",
                                      (self.palette.description, WORDS_STYLE)), id="footer-palette")
