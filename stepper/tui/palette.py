"""The command palette (`g`, ctrl+p), guarded against two ways Textual's own palette breaks the app
when keys come faster than it handles them (a paste, a held key, a quick typist)."""

from __future__ import annotations

from textual import on
from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input, OptionList


class SafePalette(CommandPalette):
    """A command palette that closes only itself, once, and pages only a list it has laid out."""

    @on(Input.Submitted)
    @on(OptionList.OptionSelected)
    @on(Button.Pressed)
    def _ignore_once_closed(self, event: Input.Submitted | OptionList.OptionSelected | Button.Pressed) -> None:
        # Two Enters queued together both select: the first closes the palette and runs the command,
        # the second would run it again and dismiss once more. Stopped here, before the base class's
        # handlers (prevent_default skips them), as soon as the palette is no longer on top.
        if not self.is_active:
            event.stop()
            event.prevent_default()

    def dismiss(self, result: object = None) -> AwaitComplete:
        # Textual's Screen.dismiss pops whichever screen is on top, not necessarily this one: a second
        # dismiss of a palette already gone would close the stepper beneath it.
        if not self.is_active:
            return AwaitComplete()
        return super().dismiss(result)

    def _action_command_list(self, action: str) -> None:
        # Textual's OptionList pages by the line each option was laid out on (`_index_to_line`), which
        # is empty until the list has a size: PageUp/PageDown before then raise KeyError.
        if action.startswith("page_") and not self.query_one(CommandList).scrollable_content_region:
            return
        super()._action_command_list(action)


def open_palette(app, **options) -> None:
    """Open the palette (`options` as for Textual's CommandPalette), unless one is open already."""
    if app.use_command_palette and not SafePalette.is_open(app):
        app.push_screen(SafePalette(**options))
