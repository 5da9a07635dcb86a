"""`?`: every key (generated from the bindings, so it cannot drift from them) and how to read the screen."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from stepper.tui.bindings import APP_BINDINGS, MODE_BINDINGS, STEP_BINDINGS, keys_text
from stepper.tui.keymap import keymap_path, remapped

READING = """\
The list on the left is the whole computation: the forward pass, then the backward pass
that carries the gradient from the loss back to every weight, then (when the scenario asks)
Training, the optimizer's first update and the loss curve, and Generation, one token at a time.
✓ means our numpy value agreed with PyTorch for that step, ✗ that it did not, · that it is not
checked yet (or has nothing PyTorch computes too). Each matrix has its rows and columns labelled
(tokens, dimensions d0…, FFN units f0…); "query × key" marks attention grids: one row per
query token, one column per key token. Under a step's formula, "here" names the arrays its
symbols stand for, "where" gives its sizes and settings, and "e.g." works one entry out
with the numbers in the tables.
Blue cells are negative, red positive, green when a matrix has no negatives; the stronger
the colour, the larger |value| within that matrix. −∞ is a masked score; grey italic cells
are positions the mask hides. Big matrices show their corners, with ⋮ and … for the rest.
Click a step or use ↑/↓ in the list; Tab moves focus to the step panel.

Quiz (z): each step asks a question before its outputs appear. Type the answer and press
Enter: ✓ or ✗, the true value and why; the score is in the top bar and goes into the export.
Esc leaves the question for later.

What-if (w): change one number of a parameter, or one token, and the whole trace is computed
and checked again. ◆ in the list marks every step the change reached; in the tables • marks
each changed cell and unchanged cells fade. o flips between the original and the edited
numbers. In a decoder, change a later token and watch the rows before it stay untouched:
no query may look ahead.

Training (t, T): a scenario that trains has two traces of its example: before training and after it
(the trained weights). t flips between them on the same step; the top bar says which is shown, ◆ marks
the steps training changed and • the cells, each table saying by how much at most. T opens the training
screen: batch loss, validation, learning rate and gradient norm per update; ←/→ move its cursor."""


class KeyTable(Widget):
    """One line per key; the binding ids (what a keymap file names) only where they fit on the line."""

    HEADING = "keymap.yaml id"

    def __init__(self, rows: list[Binding], **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows = rows

    def render(self) -> Content:
        rows = self.rows
        width = max(len(keys_text(b)) for b in rows)
        said = [b.tooltip or b.description for b in rows]
        room = max(22, *(len(s) for s in said))
        ids = width + 2 + room + 2 + max(len(self.HEADING), *(len(b.id or "") for b in rows)) <= self.size.width
        if ids:
            lines = [Content.styled(" " * (width + 2 + room + 2) + self.HEADING, "$text-muted")]
            lines += [Content.assemble((keys_text(b).ljust(width), "bold $text-accent"), "  ", text.ljust(room),
                                       (f"  {b.id or ''}", "$text-muted"))
                      for b, text in zip(rows, said, strict=True)]
        else:  # a long description wraps under itself, not under the keys
            room = max(12, self.size.width - width - 2)
            lines = [Content.assemble((keys_text(b).ljust(width) if n == 0 else " " * width, "bold $text-accent"),
                                      "  ", part)
                     for b, text in zip(rows, said, strict=True)
                     for n, part in enumerate(textwrap.wrap(text, room) or [""])]
        return Content("\n").join(lines)


def reflowed(text: str) -> str:
    """Paragraphs as single lines, so the help box wraps them at whatever width it has."""
    return "\n\n".join(" ".join(p.split("\n")) for p in text.split("\n\n"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark", "dismiss", "close help", id="close-help")]

    def __init__(self, palette_key: str, description: str = "", *, keys: list[Binding] | None = None,
                 reading: str = READING, palette: str = "command palette (go to a step, themes…)") -> None:
        super().__init__()
        self.palette_key, self.description, self.reading, self.palette = palette_key, description, reading, palette
        self.keys = [*STEP_BINDINGS, *MODE_BINDINGS] if keys is None else keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Content.styled("Esc or ? closes this help; ↑/↓ or PgUp/PgDn scroll it.", "$text-muted"))
            yield Static(Content.styled("Keys", "bold $text-primary"), classes="help-heading")
            palette = Binding(self.palette_key, "command_palette", self.palette)
            keys = remapped([*self.keys, *APP_BINDINGS], getattr(self.app, "keymap_in_use", {}))
            yield KeyTable([*keys, palette], id="help-keys")
            yield Static(Content.styled(f"Your own keys: {keymap_path()}, a line per id, e.g. next: j,right",
                                        "$text-muted"))
            yield Static(Content.styled("Reading the screen", "bold $text-primary"), classes="help-heading")
            yield Static(reflowed(self.reading), markup=False)
            if self.description:
                yield Static(Content.styled("This scenario", "bold $text-primary"), classes="help-heading")
                yield Static(self.description, markup=False)
