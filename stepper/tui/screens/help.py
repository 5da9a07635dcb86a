"""`?`: every key (generated from the bindings, so it cannot drift from them) and how to read the screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from stepper.tui.bindings import APP_BINDINGS, STEP_BINDINGS, keys_text

READING = """\
The list on the left is the whole computation: the forward pass, then the backward pass
that carries the gradient from the loss back to every weight. ✓ means our numpy value
agreed with PyTorch autograd for that step, ✗ that it did not, · that it is not checked yet.
Each matrix has its rows and columns labelled (tokens, dimensions d0…, FFN units f0…);
"query × key" marks attention grids: one row per query token, one column per key token.
Blue cells are negative, red positive, green when a matrix has no negatives; the stronger
the colour, the larger |value| within that matrix. −∞ is a masked score; grey italic cells
are positions the mask hides. Big matrices show their corners, with ⋮ and … for the rest.
Click a step or use ↑/↓ in the list; Tab moves focus to the step panel."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark", "dismiss", "close help", id="close-help")]

    def __init__(self, palette_key: str, description: str = "") -> None:
        super().__init__()
        self.palette_key, self.description = palette_key, description

    def _keys(self) -> Content:
        palette = Binding(self.palette_key, "command_palette", "command palette (go to a step, themes…)")
        rows = [*STEP_BINDINGS, *APP_BINDINGS, palette]
        width = max(len(keys_text(b)) for b in rows)
        lines = [Content.assemble((keys_text(b).ljust(width), "bold $text-accent"), "  ",
                                  b.description.ljust(22), (f"  {b.id or ''}", "$text-muted"))
                 for b in rows]
        return Content("\n").join(lines)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Content.styled("Keys", "bold $text-primary"), classes="help-heading")
            yield Static(self._keys(), id="help-keys")
            yield Static(Content.styled("Reading the screen", "bold $text-primary"), classes="help-heading")
            yield Static(READING, markup=False)
            if self.description:
                yield Static(Content.styled("This scenario", "bold $text-primary"), classes="help-heading")
                yield Static(self.description, markup=False)
            yield Static(Content.styled("Esc or ? closes this help.", "$text-muted"))
