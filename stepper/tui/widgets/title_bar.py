"""One line on top: which scenario this is, the quiz score or what-if edit, and how verification is going."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static


class TitleBar(Horizontal):
    def __init__(self, name: str, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = Content.assemble(("stepper", "bold $accent"), " · ", (name, "bold"), "  ", title)

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="title")
        mode = Static("", id="mode")
        mode.display = False  # no mode is on at first; hidden, its padding takes no room from the title
        yield mode
        yield Static("", id="status")

    def set_status(self, text: str, style: str = "$text-muted") -> None:
        self.query_one("#status", Static).update(Content.styled(text, style))

    def set_mode(self, quiz: str | None = None, whatif: str | None = None) -> None:
        """The learning modes in use: the quiz score, the what-if edit on screen."""
        parts = []
        if quiz:
            parts.append(Content.styled(quiz, "bold $text-warning"))
        if whatif:
            parts.append(Content.styled(whatif, "bold $text-accent"))
        mode = self.query_one("#mode", Static)
        mode.display = bool(parts)
        mode.update(Content("  ·  ").join(parts))
