"""The what-if recompute in a worker thread, answering the screen with a typed message."""

from __future__ import annotations

from textual.message import Message

from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.whatif_view import Edited, EditRequest
from stepper.tui.widgets.title_bar import TitleBar


class EditRecomputed(Message):
    """The what-if worker's answer: the edited trace (`edited`), or why there is none (`error`)."""

    def __init__(self, edited: Edited | None, error: str | None = None) -> None:
        super().__init__()
        self.edited, self.error = edited, error


def start_recompute(screen, original: Trace, scenario: Scenario, label: str) -> None:
    """Recompute `scenario`'s whole trace off the UI thread; `screen` then gets an EditRecomputed."""
    from stepper.tui.whatif_view import recompute

    def body() -> None:
        try:
            edited = recompute(original, scenario, label)
        except Exception as exc:
            screen.post_message(EditRecomputed(None, str(exc)))
        else:
            screen.post_message(EditRecomputed(edited))

    screen.run_worker(body, thread=True, exclusive=True, group="what-if", exit_on_error=False)


def apply_edit(screen, request: EditRequest | None) -> None:
    """The edit dialog's answer: undo every edit, or recompute with one more (a bad one is said)."""
    from stepper.tui.whatif_view import apply, param_labels

    if request is None:
        return
    if request.kind == "reset":
        screen.undo_edits()
        return
    base = screen.edited.scenario if screen.edited is not None else screen.scenario
    try:
        scenario, label = apply(base, request, param_labels(screen.original))
    except (KeyError, ValueError, IndexError) as exc:
        screen.notify(str(exc), title="what-if", severity="error")
        return
    if screen.edited is not None:
        label = f"{screen.edited.label}; {label}"
    screen.query_one(TitleBar).set_mode(None, f"what-if {label} · recomputing…")
    start_recompute(screen, screen.original, scenario, label)
