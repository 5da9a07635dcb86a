"""The forked scenario reader: read the scenario and build the trace in a child, in parallel.

While the parent imports Textual (the bulk of start-up, and exactly what a hello-world app pays
too), a child process parses the YAML, runs the engine and sends back two pickles: first the
first frame's text (plain strings, see first_frame.py), then the result with the trace. The parent
paints the first frame from the text alone, and only then loads numpy to unpickle the trace
(in a worker) and put the real screen in its place. A scenario error still prints
`FILE:LINE:COL: error: …` and exits 2 before any TUI appears. Where fork is not available,
everything runs in-process, in order.

The fork comes first: this module imports only what the command line has loaded already, so the
child starts its work a few milliseconds sooner, and the child is the slower of the two when the
machine is busy.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (~12 ms) before the fork

if TYPE_CHECKING:  # not imported for real: the fork comes before anything it need not wait for
    from collections.abc import Callable
    from pathlib import Path


def prepare(path: str | Path, force: bool, generation: dict | None = None):
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
    """The first frame's text, so the parent can paint it before it loads numpy (see first_frame.py).

    None when there is no trace yet, or in quiz mode, whose first frame asks a question instead.
    """
    if quiz or result[0] != "ok" or result[2] is None:
        return None
    try:
        from stepper.tui.startup.first_frame import first_frame

        return first_frame(result[2])
    except Exception:  # only a head start: without it the parent simply waits for the trace
        return None


def can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("STEPPER_NO_FORK") != "1"


def start_reader(request: Callable[[], tuple]) -> ChildAnswer | None:
    """Fork the scenario reader. `request()`, called in the child, says what to read:
    (path, force, generation overrides, quiz). The child writes two pickles to a pipe, the first
    frame's text and the result of `prepare`, and exits; the first goes out before the second
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

    from stepper.tui.startup import frame_cache

    def send(out, message) -> None:
        out.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        out.flush()

    try:
        at = None if quiz else frame_cache.entry(path, (force, generation))
        cached = frame_cache.read(at) if at is not None else None
    except Exception:  # only a head start: a cache that cannot be read (a dangling file, say) is none
        at = cached = None
    with os.fdopen(write_end, "wb") as out:
        if cached is not None:
            send(out, cached)
            _lower_priority()
        result = prepare(path, force, generation)
        frame = _first_frame(result, quiz)
        if cached is None:
            send(out, frame)
        if at is not None and frame is not None and frame != cached:
            frame_cache.write(at, frame)  # before the result: the parent reaps this process right after it
        if cached is None:  # (with a cached frame this process lowered its priority already)
            _lower_priority()
        send(out, result)


def _lower_priority() -> None:
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
        import threading

        self.pid, self.source = pid, os.fdopen(read_end, "rb")
        # the app's worker may be in `result` while the app quits and calls `close`: the child is reaped
        # once, and never signalled after, when its pid may be another process's
        self._reap_lock, self._reaped = threading.Lock(), False

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
        except Exception:  # a stream cut short, or garbled after a bad first pickle (or closed by `close`)
            return self.LOST
        finally:
            self._reap()

    def result_after_frame(self) -> tuple:
        """`result`, for a reader that never painted the first frame."""
        self.frame()
        return self.result()

    def stop(self) -> None:
        """Stop the child where it is, from any thread: a `result()` waiting on it gets an end of file
        at once instead of waiting for a large scenario to be read. `close` reaps it."""
        import signal

        with self._reap_lock:
            if self._reaped:  # its pid may be another process's by now
                return
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # already gone
                pass

    def close(self) -> None:
        """Done with the child, in whatever state it is: stopped, reaped, its pipe closed.

        For when its answer is not wanted (wrong arguments, the app quit before reading it)."""
        self.stop()
        self._reap()

    def _reap(self) -> None:
        """Close the pipe and wait for the child, exactly once whichever thread comes first."""
        with self._reap_lock:
            if self._reaped:
                return
            self._reaped = True
            self.source.close()
            os.waitpid(self.pid, 0)
