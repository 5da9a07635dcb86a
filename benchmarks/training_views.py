"""Key → repaint for the views of training: before/after (`t`), the training screen (`T`) and the heads view (`H`).

The bar (issue "see what training did"): each repaints within one frame, ≤ 16 ms in-process, for the sentiment
scenario, because their summaries are computed once, off the UI thread, before the key is pressed. The app
runs in-process at 120×40 (`App.run_test`) with checking against torch off, and the timing is key_repaint's: a
key delivered as the terminal driver delivers it, then every message it causes handled, laid out and painted
until nothing is pending. Each round waits for the training worker (trained trace, updates, head summaries),
then times, on the softmax step of layer 0:

  t        the same step after training
  t back   and before again
  T        open the training screen
  esc      back to the steps
  H        open the heads view the first time: its summaries are computed then, in the view's worker, so
           this paints the view with its "computing" line (the worker's time is not the key's)
  esc      back to the steps, once the summaries are in
  H again  open the heads view with the summaries kept from the first visit: the whole view
  esc      back to the steps

and prints min / median / max over the rounds of each, then the worst median against the 16 ms bar last.

    .venv/bin/python benchmarks/training_views.py [--rounds 5] [--scenario sentiment_train]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from key_repaint import until_painted  # noqa: E402  (the same definition of "painted")

BAR = 0.016
SIZE = (120, 40)
KEYS = (("t", "t"), ("t back", "t"), ("T", "T"), ("esc", "escape"), ("H", "H"), ("esc", "escape"),
        ("H again", "H"), ("esc", "escape"))
SOFTMAX = "fwd.L0.attn.h0.softmax"


async def deliver(app, pilot, key: str) -> float:
    """Seconds from the key's arrival until the screen has nothing left to do."""
    from textual import events

    start = time.perf_counter()
    event = events.Key(key, None if len(key) > 1 else key)
    event.set_sender(app)
    app.post_message(event)
    await until_painted(app, pilot, rounds=200)
    return time.perf_counter() - start


async def until(ready, what: str) -> None:
    for _ in range(12000):
        if ready():
            return
        await asyncio.sleep(0.01)
    raise SystemExit(f"{what} did not finish within two minutes")


async def one_round(path: Path) -> list[float]:
    from stepper.engine import build_trace
    from stepper.scenario import load_scenario
    from stepper.tui.app import StepperApp
    from stepper.tui.screens.main import MainScreen

    scenario = load_scenario(path)
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        # training runs in its worker; the keys are timed once its results are in
        await until(lambda: screen.after is not None and screen.update_views is not None, "the training worker")
        screen.go_to(screen.trace.index_of(SOFTMAX))
        await pilot.pause()
        times = []
        for label, key in KEYS:
            times.append(await deliver(app, pilot, key))
            await pilot.pause()  # anything the key set going in the background, outside the clock
            if label == "H":
                await until(lambda: screen.trained_insight is not None, "the heads view's worker")
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scenario", default="sentiment_train")
    args = ap.parse_args(argv)
    path = ROOT / "scenarios" / f"{args.scenario}.yaml"
    rounds = [asyncio.run(one_round(path)) for _ in range(args.rounds)]
    medians = []
    for i, (label, _) in enumerate(KEYS):
        xs = [r[i] * 1000 for r in rounds]
        medians.append(statistics.median(xs))
        print(f"{label:7s} min {min(xs):6.1f} ms  median {statistics.median(xs):6.1f} ms  max {max(xs):6.1f} ms")
    worst = max(medians)
    print(f"ratio {worst / (BAR * 1000):.2f}x  (worst median {worst:.1f} ms / the 16 ms frame; bar 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
