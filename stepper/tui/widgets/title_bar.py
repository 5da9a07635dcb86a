"""One line on top: which scenario this is, the quiz score or what-if edit, and how verification is going.

The verdict is never cut: the modes give way to it (a what-if label grows with each edit), down to an
ellipsis, and leave the scenario's name in view; the title takes what room is left."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

NAME_ROOM = 24  # columns kept for "stepper · NAME" when the modes would crowd it out
GAP = 2  # the padding-left of #mode and #status (stepper.tcss)
# which numbers are on screen, for a scenario that trains (t flips them)
BEFORE_TRAINING, AFTER_TRAINING = "before training (t)", "after training (t)"


class TitleBar(Horizontal):
    def __init__(self, name: str, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = Content.assemble(("stepper", "bold $accent"), " · ", (name, "bold"), "  ", title)
        self._name_width = min(Content(f"stepper · {name}").cell_length + 1, NAME_ROOM)  # + its ellipsis
        self._status = Content("")

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="title")
        mode = Static("", id="mode")
        mode.display = False  # no mode is on at first; hidden, its padding takes no room from the title
        yield mode
        yield Static("", id="status")

    def set_status(self, text: str, style: str = "$text-muted") -> None:
        self._status = Content.styled(text, style)
        self.query_one("#status", Static).update(self._status)
        self._fit_mode()

    def set_mode(self, quiz: str | None = None, whatif: str | None = None, training: str | None = None) -> None:
        """The learning modes in use: before or after training, the quiz score, the what-if edit on screen."""
        parts = []  # which numbers these are first: when room is short, that matters most
        if training:
            parts.append(Content.styled(training, "bold $text-success" if training == AFTER_TRAINING
                                        else "bold $text-secondary"))
        if whatif:
            parts.append(Content.styled(whatif, "bold $text-accent"))
        if quiz:
            parts.append(Content.styled(quiz, "bold $text-warning"))
        mode = self.query_one("#mode", Static)
        mode.display = bool(parts)
        mode.update(Content("  ·  ").join(parts))
        self._fit_mode()

    def on_resize(self) -> None:
        self._fit_mode()

    def _fit_mode(self) -> None:
        """The modes get the room the verdict and the scenario's name leave them."""
        room = self.content_size.width - (GAP + self._status.cell_length) - self._name_width
        self.query_one("#mode", Static).styles.max_width = max(room, GAP + 1)
