"""The Footer's picture for the first frame: the same keys and words, drawn as two lines of text.

Textual's Footer builds one widget per key and fills itself in only after the screen's bindings
settle, a refresh later; on the first frame that costs more than everything else on screen. The
first frame is on screen for a moment, until the main screen (with the real Footer) replaces it,
so a picture of the Footer is all it needs.
"""

from __future__ import annotations

from itertools import groupby

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

KEY_STYLE = "bold $footer-key-foreground"
WORDS_STYLE = "$footer-description-foreground"


def footer_picture(bindings: list[Binding], key_display) -> Content:
    """What the compact Footer shows for `bindings`: grouped keys share their group's words."""
    shown = [b for b in bindings if b.show]
    items = []
    for group, members in groupby(shown, key=lambda b: b.group):
        members = list(members)
        if group is not None and len(members) > 1:
            keys = Content(" ").join(Content.styled(key_display(b), KEY_STYLE) for b in members)
            items.append(Content.assemble(keys, " ", (group.description, WORDS_STYLE)))
        else:
            items.extend(Content.assemble((key_display(b), KEY_STYLE), " ", (b.description, WORDS_STYLE))
                         for b in members)
    return Content(" ").join(items)


class FooterPreview(Horizontal):
    def __init__(self, bindings: list[Binding], palette: Binding, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bindings, self.palette = bindings, palette

    def compose(self) -> ComposeResult:
        display = self.app.get_key_display
        yield Static(footer_picture(self.bindings, display), id="footer-keys")
        yield Static(Content.assemble((display(self.palette), KEY_STYLE), " ",
                                      (self.palette.description, WORDS_STYLE)), id="footer-palette")
