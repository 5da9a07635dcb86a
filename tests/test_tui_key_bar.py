"""The key bar at the bottom of every screen: the screen's keys as text, kept in step with its bindings,
and a click on a key presses it."""

from __future__ import annotations

from pathlib import Path

from tui_helpers import main_screen, screen_lines, wait_for

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.widgets.key_bar import KeyBar

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def bar_text(app) -> str:
    return screen_lines(app)[-1]


def app_for(name: str) -> StepperApp:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    return StepperApp(scenario, build_trace(scenario), verify=False)


async def test_a_click_on_a_key_presses_it():
    app = app_for("mini")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "? help" in bar_text(app), what="the key bar")
        bar = bar_text(app)
        assert bar.startswith("n p step")
        await pilot.click(KeyBar, offset=(bar.index("p step"), 0))  # p: the previous step, from step 1: none
        await pilot.click(KeyBar, offset=(bar.index("n p"), 0))
        await wait_for(pilot, lambda: main_screen(app).index == 1, what="step 2")
        await pilot.click(KeyBar, offset=(bar.index("p step") + 3, 0))  # a group's words: no one key of it
        await pilot.pause()
        assert main_screen(app).index == 1
        await pilot.click(KeyBar, offset=(bar.index("p step"), 0))
        await wait_for(pilot, lambda: main_screen(app).index == 0, what="step 1 again")
        await pilot.click(KeyBar, offset=(bar.index("? help") + 3, 0))  # one key's words press it
        await wait_for(pilot, lambda: app.screen is not main_screen(app), what="the help screen")


async def test_the_bar_follows_the_bindings_of_the_screen_and_its_state():
    """A scenario that trains shows t, T and H; the training screen its own keys; back on the steps,
    the steps' keys again. Under 100 columns the palette's hint makes room for the keys."""
    app = app_for("tiny_sentiment_train")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "t before/after" in bar_text(app), what="the key bar")
        assert "T training" in bar_text(app) and "^p palette" in bar_text(app)
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.update_views is not None, what="the training worker")
        await pilot.press("T")
        await wait_for(pilot, lambda: "pgup previous epoch" in bar_text(app), what="the training screen's keys")
        assert "t before/after" not in bar_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "t before/after" in bar_text(app), what="the steps' keys")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "palette" not in bar_text(app), what="the narrow bar")
        assert bar_text(app).startswith("n p step")


async def test_keys_that_do_not_fit_are_dropped_whole_and_help_and_quit_stay():
    """At 80 columns a training scenario has more keys than the row holds: the last ones give way to
    "…", whole, and `? help` and `q quit` stay at the end."""
    app = app_for("tiny_sentiment_train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "q quit" in bar_text(app), what="the key bar")
        bar = bar_text(app).rstrip()
        assert bar.startswith("n p step") and bar.endswith("… ? help q quit"), bar
        assert "T training" not in bar  # dropped whole, not cut
        await pilot.click(KeyBar, offset=(bar.index("q quit"), 0))
        await wait_for(pilot, lambda: not app.is_running, what="q from the bar")


async def test_a_click_on_a_key_the_screen_cannot_use_rings_the_bell():
    from textual.binding import Binding

    from stepper.tui.widgets.key_bar import fitted, key_items

    off = Binding("x", "nothing", "off")
    pieces = fitted(key_items([(Binding("n", "next", "step"), True), (off, False)], lambda b: b.key), None)
    assert [(text, binding is off, enabled) for text, _, binding, enabled in pieces][-2:] == [
        ("x", True, False), (" off", True, False)]
    app = app_for("mini")
    rung = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "? help" in bar_text(app), what="the key bar")
        bar = app.screen.query_one(KeyBar)
        bar._pieces = pieces  # a bar with one key the screen cannot use
        app.bell = lambda: rung.append(True)
        await pilot.click(KeyBar, offset=(len("n step "), 0))
        await pilot.pause()
        assert rung == [True] and main_screen(app).index == 0
