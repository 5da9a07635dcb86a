"""Key → repaint: how long one `n` takes to put the next step on screen, against a plain Textual app.

The baseline is the least a Textual app can do per key: a header line and an 8×8 table of numbers
(a Static holding a Rich Table), both replaced on every `n`. Both apps are measured the same way, in the same run:

  in-process  App.run_test at 120×40: the wall time from a key `n` sent through the driver until the
              screen has no update pending (handled, laid out and painted), for every step;
  tmux        a real terminal (a detached pane on a private socket): `send-keys n`, then
              `capture-pane` polled until the next step's "Step k/N" is on screen.

The scenarios: mini, char_gpt, and a d_model-256 × 4-layer encoder written here (a fixture, not a
bundled scenario). Checking against torch is off (`verify=False`), so that a reference computed on
the other core does not move the figures. Each of `--runs` runs walks every step; the figures are
per key, pooled over the runs (min / median / p90 / max), with the min / median / max of the runs'
medians; the ratios to the baseline's median and p90 are printed last.

    .venv/bin/python benchmarks/key_repaint.py [--runs 5] [--mode both|inproc|tmux] [--bundled]

`--bundled` walks every bundled scenario once in-process and prints its slowest step (goal: ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this worktree's stepper, also when run as a script
SOCKET = f"stepper-keys-{os.getpid()}"
SIZE = (120, 40)

BASELINE = '''\
import numpy as np
from rich.table import Table
from textual.app import App, ComposeResult
from textual.widgets import Static


class Baseline(App):
    """A header and an 8×8 table of numbers, both replaced on every `n`."""

    BINDINGS = [("n", "next"), ("q", "quit")]

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps, self.index, self.rng = steps, 0, np.random.default_rng(0)

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="table")

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        self.query_one("#header", Static).update(f"Step {self.index + 1}/{self.steps}  a step of the baseline")
        table = Table(*(f"c{j}" for j in range(8)))
        for row in self.rng.standard_normal((8, 8)):
            table.add_row(*(f"{v:.3f}" for v in row))
        self.query_one("#table", Static).update(table)

    def action_next(self) -> None:
        self.index = min(self.index + 1, self.steps - 1)
        self.show()
'''

ENCODER_256 = """\
name: enc256
title: a d_model-256, 4-layer encoder (key_repaint benchmark fixture)
model: {kind: encoder, d_model: 256, n_heads: 4, n_layers: 4, d_ff: 1024, activation: gelu,
        norm: post, positional: sinusoidal, pooling: mean}
input:
  vocab: ["<pad>", the, cat, sat, on, a, mat, and, dog, ran, far, away]
  tokens: [the, cat, sat, on, the, mat, and, ran]
task: {kind: classify, classes: [negative, positive], label: positive}
weights: {seed: 0, init: {std: 0.05}}
"""

APP = ("import sys; sys.path.insert(0, {root!r}); from stepper.scenario import load_scenario; "
       "from stepper.engine import build_trace; from stepper.tui.app import StepperApp; "
       "s = load_scenario({path!r}); StepperApp(s, build_trace(s), verify=False).run()")


def scenario_paths(tmp: Path) -> dict[str, Path]:
    enc = tmp / "enc256.yaml"
    enc.write_text(ENCODER_256)
    return {"mini": ROOT / "scenarios/mini.yaml", "char_gpt": ROOT / "scenarios/char_gpt.yaml", "enc256": enc}


# ---- in-process ---------------------------------------------------------------------------


def stepper_app(path: Path):
    from stepper.engine import build_trace
    from stepper.scenario import load_scenario
    from stepper.tui.app import StepperApp

    scenario = load_scenario(path)
    trace = build_trace(scenario)
    return StepperApp(scenario, trace, verify=False), len(trace.steps)


def baseline_app(steps: int):
    namespace: dict = {}
    exec(compile(BASELINE, "baseline", "exec"), namespace)
    return namespace["Baseline"](steps)


def pending(app) -> bool:
    """Whether a message is still queued anywhere, or the screen still has a layout, a repaint or an
    after-refresh callback to do (Textual's own flags: `pilot.pause()` would instead wait for the
    CPU to idle, ≥ 20 ms of polling)."""
    screen = app.screen
    queued = any(not node._message_queue.empty() for node in (app, *screen.walk_children(with_self=True)))
    return bool(queued or screen._layout_required or screen._repaint_required or screen._dirty_widgets
                or screen._callbacks or screen._scroll_required)


async def until_painted(app, pilot, rounds: int = 50) -> None:
    """Handle what is queued, then lay out and paint at once (what a terminal's next frame tick does),
    until nothing is pending."""
    for _ in range(rounds):
        await pilot._wait_for_screen()
        app.screen._on_timer_update()
        await asyncio.sleep(0)
        if not pending(app):
            return


async def walk(app, steps: int) -> list[float]:
    """Seconds per `n`, for every step after the first: the key delivered as the terminal driver
    delivers it, every message it causes handled, then laid out and painted at once (the screen's
    update, which a real terminal runs on its next frame tick) until nothing is left pending.
    `pilot.press` is not used: it waits twice for the CPU to idle, ≥ 40 ms of polling per key."""
    from textual import events

    times = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(steps - 1):
            start = time.perf_counter()
            key = events.Key("n", "n")
            key.set_sender(app)
            app.post_message(key)  # as the terminal driver delivers a key
            await until_painted(app, pilot)
            times.append(time.perf_counter() - start)
            await pilot.pause()  # anything else the key set going, outside the clock
    return times


def in_process(path: Path, runs: int) -> tuple[list[list[float]], list[list[float]]]:
    app_runs, base_runs = [], []
    for _ in range(runs):  # interleaved, so that a noisy machine slows both alike
        app, steps = stepper_app(path)
        app_runs.append(asyncio.run(walk(app, steps)))
        base_runs.append(asyncio.run(walk(baseline_app(steps), steps)))
    return app_runs, base_runs


def slowest_bundled() -> None:
    worst = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        app, steps = stepper_app(path)
        times = asyncio.run(walk(app, steps))
        worst.append((max(times), path.stem, times.index(max(times)) + 2))
        print(f"  {path.stem:20} steps {steps:4}  median {statistics.median(times) * 1000:5.1f} ms"
              f"  max {max(times) * 1000:5.1f} ms (step {worst[-1][2]})", flush=True)
    top = max(worst)
    print(f"slowest step of any bundled scenario: {top[0] * 1000:.1f} ms ({top[1]}, step {top[2]}; goal ≤ 50 ms)")


# ---- tmux -----------------------------------------------------------------------------------


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True).stdout


def wait_for(name: str, marker: str, start: float, timeout: float = 60.0) -> float:
    """Seconds since `start` until `marker` is on screen."""
    while time.perf_counter() - start < timeout:
        if marker in tmux("capture-pane", "-p", "-t", name):
            return time.perf_counter() - start
    raise TimeoutError(f"{marker!r} did not appear within {timeout}s")


def in_tmux(command: str, steps: int) -> list[float]:
    """Seconds from `send-keys n` until the next step's number is on screen, for every step."""
    name = f"k{time.monotonic_ns()}"
    tmux("new-session", "-d", "-s", name, "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)
    times = []
    try:
        wait_for(name, f"Step 1/{steps}", time.perf_counter())
        time.sleep(0.5)  # the first frame's follow-ups (fitting, a timer or two) are over
        for k in range(2, steps + 1):
            start = time.perf_counter()
            tmux("send-keys", "-t", name, "n")
            times.append(wait_for(name, f"Step {k}/{steps}", start))
            time.sleep(0.05)  # what the key set going after its first paint, before the next key
    finally:
        tmux("kill-session", "-t", name)
    return times


def tmux_runs(path: Path, runs: int, tmp: Path) -> tuple[list[list[float]], list[list[float]]]:
    _, steps = stepper_app(path)
    base_py = tmp / "baseline.py"
    base_py.write_text(BASELINE + f"\nBaseline({steps}).run()\n")
    python = shlex.quote(sys.executable)
    app_cmd = f"{python} -c {shlex.quote(APP.format(root=str(ROOT), path=str(path)))}"
    base_cmd = f"{python} {shlex.quote(str(base_py))}"
    app_runs, base_runs = [], []
    for _ in range(runs):
        app_runs.append(in_tmux(app_cmd, steps))
        base_runs.append(in_tmux(base_cmd, steps))
    return app_runs, base_runs


# ---- figures --------------------------------------------------------------------------------


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def line(label: str, runs: list[list[float]]) -> str:
    pooled = [t for run in runs for t in run]
    medians = [statistics.median(run) for run in runs]
    ms = lambda v: f"{v * 1000:6.1f}"  # noqa: E731
    return (f"{label:22} per key min {ms(min(pooled))} median {ms(statistics.median(pooled))} "
            f"p90 {ms(p90(pooled))} max {ms(max(pooled))} ms · run medians "
            f"{ms(min(medians))} / {ms(statistics.median(medians))} / {ms(max(medians))} ms")


def ratios(app_runs: list[list[float]], base_runs: list[list[float]]) -> tuple[float, float]:
    app = [t for run in app_runs for t in run]
    base = [t for run in base_runs for t in run]
    return statistics.median(app) / statistics.median(base), p90(app) / statistics.median(base)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mode", choices=["both", "inproc", "tmux"], default="both")
    ap.add_argument("--scenarios", default="mini,char_gpt,enc256")
    ap.add_argument("--bundled", action="store_true", help="the slowest in-process step of every bundled scenario")
    args = ap.parse_args(argv)
    if args.bundled:
        slowest_bundled()
        return 0
    summary = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["XDG_CONFIG_HOME"] = str(tmp)  # no keymap of the user's
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
        paths = scenario_paths(tmp)
        if args.mode != "inproc":
            tmux("new-session", "-d", "-s", "keeper", "sleep 3600")  # the server stays up between runs
        try:
            for name in args.scenarios.split(","):
                modes = [("in-process", lambda p: in_process(p, args.runs))] if args.mode != "tmux" else []
                if args.mode != "inproc":
                    modes.append(("tmux", lambda p: tmux_runs(p, args.runs, tmp)))
                for mode, measure in modes:
                    app_runs, base_runs = measure(paths[name])
                    print(line(f"{name} {mode}", app_runs))
                    print(line(f"  baseline {mode}", base_runs), flush=True)
                    summary.append((name, mode, *ratios(app_runs, base_runs)))
        finally:
            if args.mode != "inproc":
                subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    for name, mode, median, tail in summary:
        print(f"ratio {name:9} {mode:10} median {median:.2f}× p90 {tail:.2f}× the baseline's median"
              f" (goals 1.3× / 2×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
