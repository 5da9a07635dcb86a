"""Random keys and terminal sizes, thrown at the stepper: no sequence may crash it or close it.

Seeded, so a failure replays: it prints the seed and every key and resize sent. To replay one,
set STEPPER_FUZZ_SEED to the printed seed (and pick the scenario with `-k`)."""

from __future__ import annotations

import os
import random
import string
from dataclasses import replace
from pathlib import Path

import pytest
from tui_helpers import burst

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.bindings import APP_BINDINGS, HEADS_BINDINGS, MODE_BINDINGS, STEP_BINDINGS, TRAINING_BINDINGS

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SEED = int(os.environ.get("STEPPER_FUZZ_SEED", "20261122"))
KEYS_PER_SCENARIO = 450
QUITS = {"q", "ctrl+q", "ctrl+c"}  # keys that end the app on purpose (the palette's Quit is caught below)

BOUND = {key.strip() for b in (*STEP_BINDINGS, *MODE_BINDINGS, *APP_BINDINGS, *TRAINING_BINDINGS, *HEADS_BINDINGS)
         for key in b.key.split(",")}
KEYS = sorted(({*string.ascii_lowercase, *string.digits, *BOUND, "ctrl+p", "question_mark", "enter", "escape",
                "tab", "shift+tab", "up", "down", "left", "right", "pageup", "pagedown", "home", "end",
                "backspace", "delete", "space", "minus", "full_stop", "ctrl+d", "ctrl+u"}) - QUITS)
# the keys that open something, and the ones that act in it: drawn more often than single letters
BUSY = ["g", "ctrl+p", "e", "w", "z", "o", "question_mark", "enter", "enter", "escape", "tab", "down", "up",
        "pagedown", "pageup", "n", "p", "b", "t", "T", "H", "v", "j", "k"]


def _sequence(rng: random.Random, count: int) -> list[tuple[str, ...]]:
    """Bursts of 1–10 keys (queued together, as a quick typist sends them), with a resize now and then."""
    out: list[tuple[str, ...]] = []
    sent = 0
    while sent < count:
        if rng.random() < 0.06:
            out.append((f"resize:{rng.randint(20, 250)}x{rng.randint(8, 70)}",))
            continue
        chunk = tuple(rng.choice(BUSY if rng.random() < 0.5 else KEYS) for _ in range(rng.randint(1, 10)))
        out.append(chunk)
        sent += len(chunk)
    return out


def _scenario(name: str):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    if name == "momentum_step":
        scenario.optim = replace(scenario.optim, steps=3)  # a few updates: the training view has a curve
    return scenario


# (scenario, quiz mode on from the start: the answer box then takes most letters)
@pytest.mark.parametrize(("name", "quiz"), [("mini", False), ("char_gpt", True), ("momentum_step", False),
                                            ("mlp_by_hand", True), ("tiny_sentiment_train", False),
                                            ("translate_by_hand", False)])
async def test_random_keys_and_sizes_never_crash_the_stepper(name, quiz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `e` exports into the current folder
    scenario = _scenario(name)
    seed = SEED + sum(map(ord, name))
    sequence = _sequence(random.Random(seed), KEYS_PER_SCENARIO)
    sent: list[tuple[str, ...]] = []
    quits: list[int] = []
    # q, and the palette's own "Quit", are the learner asking to leave: counted, not done, so the run goes on
    monkeypatch.setattr(StepperApp, "action_quit", lambda app: quits.append(len(sent)))
    app = StepperApp(scenario, build_trace(scenario), verify=False, quiz=quiz)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            for chunk in sequence:
                sent.append(chunk)
                if chunk[0].startswith("resize:"):
                    width, height = map(int, chunk[0].removeprefix("resize:").split("x"))
                    await pilot.resize_terminal(width, height)
                    await pilot.pause()
                else:
                    await burst(pilot, *chunk)
                assert app.return_code is None, "the app stopped"  # a crash sets the return code
            await app.workers.wait_for_complete()
            await pilot.pause()
    except BaseException as exc:
        pytest.fail(f"{name}: {type(exc).__name__}: {exc}\nseed {seed} (STEPPER_FUZZ_SEED={SEED}); "
                    f"{len(sent)} chunks sent, the last of them:\n{sent[-40:]!r}\nall: {sent!r}")
    assert app.return_code in (None, 0)
