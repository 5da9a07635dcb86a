"""`stepper run`: the forked reader started first (reader.py), Textual loaded beside it, the first
frame painted from the reader's text, then the trace. A scenario error still prints
`FILE:LINE:COL: error: …` and exits 2 before any TUI appears. Where fork is not available,
everything runs in-process, in order. Importing this module must not load anything the fork
need not wait for."""

from __future__ import annotations

import os
import sys

from stepper.tui.startup.collector import hold_collector, resume_collector
from stepper.tui.startup.reader import ChildAnswer, can_fork, prepare, start_reader

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (~12 ms) before the fork

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ChildAnswer", "can_fork", "hold_collector", "launch", "resume_collector", "start_reader"]

# how long the terminal may stay blank waiting for the child's first frame (it usually takes a
# tenth of this); past it the scenario is a large one, and the app opens on its loading screen
FIRST_FRAME_WAIT = 0.8


def _stem(path) -> str:
    return os.path.splitext(os.path.basename(str(path)))[0]


def launch(path: str | Path, *, quiz: bool = False, force: bool = False, generation: dict | None = None,
           reader: ChildAnswer | None = None) -> int:
    """Open the TUI on `path`. `reader`: a scenario reader already started for it (see cli._run)."""
    hold_collector()
    try:
        return _start(path, quiz, force, generation, reader)
    finally:
        resume_collector()  # on every way out; when the app opened, release_collector did this long before


def _start(path: str | Path, quiz: bool, force: bool, generation: dict | None, answer: ChildAnswer | None) -> int:
    if answer is None and can_fork():
        answer = start_reader(lambda: (path, force, generation, quiz))
    if answer is not None:
        from stepper.tui.startup.app import run_loading, run_preview  # Textual loads here, beside the child

        if not answer.ready(FIRST_FRAME_WAIT):  # a large model: the loading screen, not a blank terminal
            try:
                return run_loading(_stem(path), answer.result_after_frame, quiz=quiz, stop=answer.stop)
            finally:
                answer.close()
        frame = answer.frame()
        if frame is not None:
            try:
                return run_preview(frame, answer.result, quiz=quiz, stop=answer.stop)
            finally:
                answer.close()  # quit before the trace was read: the child is not left behind
        result = answer.result()
    else:
        result = prepare(path, force, generation)
    if result[0] == "error":
        print(result[1], file=sys.stderr)
        return 2
    if result[0] == "crash":
        print(result[1], file=sys.stderr)
        return 1
    from stepper.tui.startup.app import run_started

    _, scenario, trace = result
    return run_started(scenario, trace, quiz=quiz)
