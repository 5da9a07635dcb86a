"""Time to first frame: `stepper run scenarios/mini.yaml` against a Textual hello world.

Both run in a real terminal (a detached tmux pane on a private socket) and the clock stops
when `tmux capture-pane` first shows the app's own text, so the numbers include interpreter
start-up, imports, scenario loading and Textual's first paint — what a learner waits for.
The two are interleaved run by run so that a noisy machine slows both alike.

    .venv/bin/python benchmarks/first_frame.py [--runs 7] [--size 120x40]

Exit code 1 when the median ratio is above the limit (1.5 by default).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOCKET = f"stepper-bench-{os.getpid()}"

HELLO = """\
from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App):
    def compose(self) -> ComposeResult:
        yield Static("Hello, World!")


Hello().run()
"""

STEPPER_FALLBACK = (
    "from stepper.scenario import load_scenario; from stepper.tui.app import run_app; "
    "raise SystemExit(run_app(load_scenario({path!r})))"
)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True).stdout


def first_frame(command: str, marker: str, size: tuple[int, int], timeout: float = 30.0) -> float:
    """Seconds from launching `command` in a fresh pane until `marker` is on screen."""
    name = f"ff{time.monotonic_ns()}"
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), command)
    try:
        while time.perf_counter() - start < timeout:
            if marker in tmux("capture-pane", "-p", "-t", name):
                return time.perf_counter() - start
            time.sleep(0.005)
        raise TimeoutError(f"{marker!r} did not appear within {timeout}s running {command}")
    finally:
        tmux("kill-session", "-t", name)


def stepper_command(python: str, scenario: str) -> str:
    cli = ROOT / "stepper" / "cli.py"
    exe = Path(python).with_name("stepper")
    if cli.exists() and exe.exists():
        return f"{shlex.quote(str(exe))} run {shlex.quote(scenario)}"
    code = STEPPER_FALLBACK.format(path=scenario)
    return f"{shlex.quote(python)} -c {shlex.quote(code)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--scenario", default="scenarios/mini.yaml")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--limit", type=float, default=1.5)
    ap.add_argument("--command", help="time this shell command instead of `stepper run` (to compare variants)")
    ap.add_argument("--cold", action="store_true", help="time first opens: no first frame kept from a run before")
    ap.add_argument("--marker", default="Token embedding", help="text that marks the first frame")
    args = ap.parse_args(argv)
    size = tuple(int(n) for n in args.size.split("x"))

    # what a fresh setup has: bytecode for every module (stale caches would time the compiler too,
    # since PYTHONDONTWRITEBYTECODE stops Python from refreshing them itself)
    subprocess.run([args.python, "-m", "compileall", "-q", str(ROOT / "stepper")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        # stepper's first-frame cache (stepper/tui/startup/frame_cache.py) lives here, not in the user's:
        # the warm-up run opens the scenario first, so the timed runs reopen it, as a learner
        # coming back to it does; --cold empties it before every timed run instead
        cache = Path(tmp) / "cache"
        os.environ["XDG_CACHE_HOME"] = str(cache)  # before the tmux server starts, which passes it on
        hello_py = Path(tmp) / "hello.py"
        hello_py.write_text(HELLO)
        hello = f"{shlex.quote(args.python)} {shlex.quote(str(hello_py))}"
        stepper = f"cd {shlex.quote(str(ROOT))} && {args.command or stepper_command(args.python, args.scenario)}"
        # a long-lived session keeps the tmux server up, so no run pays for starting it
        tmux("new-session", "-d", "-s", "keeper", "sleep 600")
        try:
            first_frame(hello, "Hello, World!", size)  # warm the file cache for both
            first_frame(stepper, args.marker, size)
            hello_t, stepper_t = [], []
            for _ in range(args.runs):
                hello_t.append(first_frame(hello, "Hello, World!", size))
                if args.cold:
                    shutil.rmtree(cache, ignore_errors=True)
                stepper_t.append(first_frame(stepper, args.marker, size))
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)

    h, s = statistics.median(hello_t), statistics.median(stepper_t)
    ratio = s / h
    print(f"hello world   median {h * 1000:6.0f} ms  runs {', '.join(f'{t * 1000:.0f}' for t in hello_t)}")
    print(f"stepper run   median {s * 1000:6.0f} ms  runs {', '.join(f'{t * 1000:.0f}' for t in stepper_t)}")
    print(f"ratio {ratio:.2f}× (target 1.3×, limit {args.limit}×)")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
