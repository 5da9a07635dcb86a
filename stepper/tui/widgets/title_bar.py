"""One line on top: which scenario this is, and how verification is going."""

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
        yield Static("", id="status")

    def set_status(self, text: str, style: str = "$text-muted") -> None:
        self.query_one("#status", Static).update(Content.styled(text, style))
