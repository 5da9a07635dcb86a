"""Starting the TUI fast: read the scenario and build the trace in a forked child, in parallel.

While the parent imports Textual (the bulk of start-up, and exactly what a hello-world app pays
too), a child process parses the YAML, runs the engine and sends back two pickles: first the
first frame's text (plain strings, see parts.py), then the result with the trace. The parent
paints the first frame from the text alone, and only then loads numpy to unpickle the trace
(in a worker) and put the real screen in its place. A scenario error still prints
`FILE:LINE:COL: error: …` and exits 2 before any TUI appears. Where fork is not available,
everything runs in-process, in order.

The fork comes first: this module imports only what the command line has loaded already, so the
child starts its work a few milliseconds sooner, and the child is the slower of the two when the
machine is busy.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (~12 ms) before the fork

if TYPE_CHECKING:  # not imported for real: the fork comes before anything it need not wait for
    from collections.abc import Callable
    from pathlib import Path


def _prepare(path: str | Path, force: bool, generation: dict | None = None):
    """('ok', scenario, trace-or-None) or ('error', message); never raises."""
    try:
        from stepper.scenario import ScenarioError, load_scenario

        try:
            from stepper.scenario.shown import shown_scenario

            scenario = shown_scenario(load_scenario(path, force=force, generation=generation))
            from stepper.scenario.limits import SYNC_BUILD_LIMIT, build_cost

            trace = None
            if build_cost(scenario) <= SYNC_BUILD_LIMIT:
                from stepper.engine import build_trace

                trace = build_trace(scenario)  # a ScenarioError here is the learner's too
        except ScenarioError as exc:
            return ("error", str(exc))
        return ("ok", scenario, trace)
    except BaseException:  # a bug, not the learner's mistake: report it whole
        import traceback

        return ("crash", traceback.format_exc())


def _first_frame(result, quiz: bool) -> dict | None:
    """The first frame's text, so the parent can paint it before it loads numpy (see parts.py).

    None when there is no trace yet, or in quiz mode, whose first frame asks a question instead.
    """
    if quiz or result[0] != "ok" or result[2] is None:
        return None
    try:
        from stepper.tui.parts import first_frame

        return first_frame(result[2])
    except Exception:  # only a head start: without it the parent simply waits for the trace
        return None


# how long the terminal may stay blank waiting for the child's first frame (it usually takes a
# tenth of this); past it the scenario is a large one, and the app opens on its loading screen
FIRST_FRAME_WAIT = 0.8


def _stem(path) -> str:
    return os.path.splitext(os.path.basename(str(path)))[0]


def can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("STEPPER_NO_FORK") != "1"


def start_reader(request: Callable[[], tuple]) -> ChildAnswer | None:
    """Fork the scenario reader. `request()`, called in the child, says what to read:
    (path, force, generation overrides, quiz). The child writes two pickles to a pipe, the first
    frame's text and the result of `_prepare`, and exits; the first goes out before the second
    is even made (see `_answer`). None when no process can be started (then everything runs in this one)."""
    try:
        read_end, write_end = os.pipe()
    except OSError:  # out of descriptors: slower, not wrong
        return None
    try:
        pid = os.fork()
    except OSError:  # out of processes
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # child
        os.close(read_end)
        code = 0
        try:
            # the parent speaks for both: a usage error or --help is printed there, once
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            _answer(write_end, request)
        except BaseException:  # SystemExit from argparse too: the parent reports it
            code = 1
        os._exit(code)
    os.close(write_end)
    return ChildAnswer(pid, read_end)


def _answer(write_end: int, request: Callable[[], tuple]) -> None:
    """The child's side: the first frame as soon as there is one (at once, from frame_cache, when
    this scenario was opened before as it is now), then the result; and the frame kept for next time."""
    path, force, generation, quiz = request()
    import pickle

    from stepper.tui import frame_cache

    def send(out, message) -> None:
        out.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        out.flush()

    try:
        at = None if quiz else frame_cache.entry(path, (force, generation))
        kept = frame_cache.read(at) if at is not None else None
    except Exception:  # only a head start: a cache that cannot be read (a dangling file, say) is none
        at = kept = None
    with os.fdopen(write_end, "wb") as out:
        if kept is not None:
            send(out, kept)
            _step_aside()
        result = _prepare(path, force, generation)
        frame = _first_frame(result, quiz)
        if kept is None:
            send(out, frame)
        if at is not None and frame is not None and frame != kept:
            frame_cache.write(at, frame)  # before the result: the parent reaps this process right after it
        if kept is None:  # (with a kept frame this process stepped aside already, and once is enough)
            _step_aside()
        send(out, result)


def _step_aside() -> None:
    """The first frame is out: the rest of the child's work should not take a core from the parent
    while it paints (on a machine with one core free, it would)."""
    try:
        os.nice(10)
    except OSError:
        pass


class ChildAnswer:
    """The parent's end of the child's pipe: the first frame's text as soon as it is sent, the
    result only when asked for, since unpickling the trace loads numpy."""

    LOST = ("crash", "the scenario reader stopped without an answer")

    def __init__(self, pid: int, read_end: int) -> None:
        self.pid, self.source = pid, os.fdopen(read_end, "rb")

    def ready(self, timeout: float) -> bool:
        """Has the child sent something (its first frame, or word that there is none) within `timeout` s?"""
        import select

        return bool(select.select([self.source], [], [], timeout)[0])

    def frame(self) -> dict | None:
        """The first frame's text; None when there is none (quiz mode, an error, no trace yet)."""
        import pickle

        try:
            return pickle.load(self.source)
        except (EOFError, pickle.UnpicklingError):
            return None

    def result(self) -> tuple:
        """('ok', scenario, trace), ('error', message) or ('crash', report). Call `frame` first."""
        import pickle

        try:
            return pickle.load(self.source)
        except Exception:  # a stream cut short, or garbled after a bad first pickle
            return self.LOST
        finally:
            self.source.close()
            os.waitpid(self.pid, 0)

    def result_after_frame(self) -> tuple:
        """`result`, for a reader that never painted the first frame."""
        self.frame()
        return self.result()

    def stop(self) -> None:
        """Stop the child where it is, from any thread: a `result()` waiting on it gets an end of file
        at once instead of waiting for a large scenario to be read. `close` reaps it."""
        import signal

        if self.source.closed:  # reaped already: its pid may be another process's by now
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # already gone
            pass

    def close(self) -> None:
        """Done with the child, in whatever state it is: stopped, reaped, its pipe closed.

        For when its answer is not wanted (wrong arguments, the app quit before reading it)."""
        if self.source.closed:
            return
        self.stop()
        self.source.close()
        os.waitpid(self.pid, 0)


def hold_collector() -> None:
    """Keep Python's cyclic garbage collector off while the app starts.

    Start-up creates hundreds of thousands of objects that live for the whole session (Textual's
    modules and classes, the stylesheet, the widgets, the trace), and the collector would walk
    them again and again: about 60 ms of the first frame's wait, measured. The little cyclic
    garbage made meanwhile waits for `release_collector`. A long wait (the loading screen of a
    big scenario) turns the collector back on at once instead: `resume_collector`.
    """
    gc.disable()


def release_collector() -> None:
    """Once the main screen is up: collect once, set the start-up objects aside, collect as usual.

    Frozen objects are skipped by every later collection, so stepping never pays to walk Textual's
    classes again; the garbage is collected first so that none of it is frozen with them. A no-op
    unless the collector is held (tests open the app without `hold_collector`).
    """
    if not gc.isenabled():
        gc.collect()
        gc.freeze()
        gc.enable()


def resume_collector() -> None:
    """The collector back on, nothing frozen: for a start-up that will take a while."""
    gc.enable()


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
        from stepper.tui.app import run_app, run_loading, run_preview  # Textual loads here, beside the child

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
        from stepper.tui.app import run_app

        result = _prepare(path, force, generation)
    if result[0] == "error":
        print(result[1], file=sys.stderr)
        return 2
    if result[0] == "crash":
        print(result[1], file=sys.stderr)
        return 1
    _, scenario, trace = result
    return run_app(scenario, quiz=quiz, trace=trace)
