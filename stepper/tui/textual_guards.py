"""Guards against Textual behaviour that would crash the app on ordinary keys typed quickly, applied
once per process by each app (StepperApp, DiffApp). Each names what Textual does, so that it can go
when Textual changes; each leaves Textual alone where the method it guards is missing."""

from __future__ import annotations

from textual.await_complete import AwaitComplete
from textual.screen import Screen
from textual.widgets import OptionList


def apply_textual_guards() -> None:
    _guard(OptionList, "_move_page", _page_only_laid_out)
    _guard(Screen, "dismiss", _dismiss_only_on_top)


def _guard(cls: type, name: str, make) -> None:
    original = cls.__dict__.get(name)
    if original is not None and not getattr(original, "guarded", False):
        guarded = make(original)
        guarded.guarded = True
        setattr(cls, name, guarded)


def _page_only_laid_out(original):
    """Textual's OptionList pages (PageUp/PageDown) from the line its highlighted option was laid out on
    (`_index_to_line`), which is empty until the list has a width and is cleared on each resize: a page
    key then raises KeyError. This holds for every option list: the go-to palette, a what-if Select's
    dropdown, the pipeline. A page key that comes too early does nothing; the next one pages."""

    def _move_page(self: OptionList, direction: int) -> None:
        if (self.highlighted or 0) in self._index_to_line:
            original(self, direction)

    return _move_page


def _dismiss_only_on_top(original):
    """Textual's Screen.dismiss pops whichever screen is on top, not the screen dismissed. A key queued
    for a screen that another has covered meanwhile (Esc for the help screen, just as ctrl+p opens the
    palette over it; a second Enter in the palette, which has closed) would close that other screen, or
    the stepper itself beneath it. A screen not on top is not dismissed: the key was meant for a
    screen the learner no longer sees."""

    def dismiss(self: Screen, result=None) -> AwaitComplete:
        if not self.is_active:
            return AwaitComplete()
        return original(self, result)

    return dismiss
