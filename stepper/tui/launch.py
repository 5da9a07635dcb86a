"""Starting the TUI fast: read the scenario and build the trace in a forked child, in parallel.

While the parent imports Textual and the screens (the bulk of start-up, and exactly what a
hello-world app pays too), a child process parses the YAML, runs the engine and sends the
result back pickled. The parent never waits for numpy, YAML or the engine on its own core.
A scenario error still prints `FILE:LINE:COL: error: …` and exits 2 before any TUI appears.
Where fork is not available, everything runs in-process, in order.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from pathlib import Path


def _prepare(path: str | Path, force: bool, generation: dict | None = None):
    """('ok', scenario, trace-or-None) or ('error', message); never raises."""
    try:
        from stepper.commands import load
        from stepper.scenario import ScenarioError

        try:
            scenario = load(path, force=force, generation=generation)
        except ScenarioError as exc:
            return ("error", str(exc))
        from stepper.tui.app import SYNC_BUILD_LIMIT, build_cost

        trace = None
        if build_cost(scenario) <= SYNC_BUILD_LIMIT:
            from stepper.engine import build_trace

            trace = build_trace(scenario)
        return ("ok", scenario, trace)
    except BaseException:  # a bug, not the learner's mistake: report it whole
        return ("crash", traceback.format_exc())


def _in_child(path: str | Path, force: bool, generation: dict | None) -> tuple[int, int]:
    """Fork; the child writes the pickled result of `_prepare` to a pipe and exits."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        code = 0
        try:
            data = pickle.dumps(_prepare(path, force, generation), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int):
    with os.fdopen(read_end, "rb") as src:
        data = src.read()
    os.waitpid(pid, 0)
    if not data:
        return ("crash", "the scenario reader stopped without an answer")
    return pickle.loads(data)


def launch(path: str | Path, *, quiz: bool = False, force: bool = False, generation: dict | None = None) -> int:
    if hasattr(os, "fork") and os.environ.get("STEPPER_NO_FORK") != "1":
        pid, read_end = _in_child(path, force, generation)
        from stepper.tui.app import run_app  # Textual loads here, alongside the child's work

        result = _collect(pid, read_end)
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
