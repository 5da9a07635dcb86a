"""The command palette (`g`, ctrl+p), guarded against the ways Textual's own palette breaks the app
when keys come faster than it handles them (a paste, a held key, a quick typist). Its page keys and
its dismiss are guarded with every option list's and every screen's, in textual_guards."""

from __future__ import annotations

from textual import on
from textual.command import CommandPalette
from textual.widgets import Button, Input, OptionList


class SafePalette(CommandPalette):
    """A command palette that acts once: a selection after it has closed is dropped."""

    @on(Input.Changed)
    @on(Input.Submitted)
    @on(OptionList.OptionSelected)
    @on(Button.Pressed)
    def _ignore_once_closed(self, event: Input.Changed | Input.Submitted | OptionList.OptionSelected
                            | Button.Pressed) -> None:
        # Keys queued together outlive the palette they were typed into: a second Enter would select
        # again and run the command twice; a letter typed just before Esc would start a search whose
        # worker fills a list already gone (NoMatches). Stopped here, before the base class's handlers
        # (prevent_default skips them), as soon as the palette is no longer on top.
        if not self.is_active:
            event.stop()
            event.prevent_default()


def open_palette(app, **options) -> None:
    """Open the palette (`options` as for Textual's CommandPalette), unless one is open already."""
    if app.use_command_palette and not SafePalette.is_open(app):
        app.push_screen(SafePalette(**options))
