"""`e`: the trace on screen written to markdown, in a worker; the screen hears back by a message.

The screen's own state (the verdicts, the what-if label, the quiz answers) goes to the export as
arguments: the Trace the screen shows is never written to."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from stepper.trace import Trace
from stepper.verify.verdicts import Check


class ExportDone(Message):
    """`path` written; or `error`, why not."""

    def __init__(self, path: Path | None, error: str | None = None, which: str = "the trace") -> None:
        super().__init__()
        self.path, self.error, self.which = path, error, which


def export_trace(directory: Path, trace: Trace, verdicts: dict[str, Check], whatif: str | None,
                 quiz_results: list, quiz_elsewhere: list) -> Path:
    from stepper.export.files import write_unique
    from stepper.export.markdown import render_markdown

    text = render_markdown(trace, verdicts=verdicts, answers=quiz_results, elsewhere=quiz_elsewhere,
                           whatif=whatif or "")
    return write_unique(directory, f"{trace.scenario}-trace", ".md", text)


def start_export(screen) -> None:
    """The main screen's trace on screen, as it is shown, written in a worker; an ExportDone answers."""
    trace, directory = screen.trace, Path.cwd()
    labels = screen.whatif_labels
    results = screen.quiz.results(trace)
    elsewhere = screen.quiz.elsewhere(trace, lambda other: f"the what-if edit {labels[id(other)]}"
                                    if labels.get(id(other)) else "the original numbers")
    # the view shown is the trace written: with an edit on hand, say which of the two that was
    which = ("the original trace, without the what-if edit (o shows the edited one, then e)"
             if screen.edited is not None and screen.role != "edited" else
             "the edited trace" if screen.edited is not None else "the trace")
    verdicts, label = dict(screen.verdicts), labels.get(id(trace), "")

    def body() -> None:
        try:
            path = export_trace(directory, trace, verdicts, label, results, elsewhere)
        except Exception as exc:
            screen.post_message(ExportDone(None, str(exc)))
        else:
            screen.post_message(ExportDone(path, which=which))

    screen.run_worker(body, thread=True, exclusive=True, group="export", exit_on_error=False)
