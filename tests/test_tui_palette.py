"""The go-to palette (`g`, ctrl+p): what it finds, and that no key sequence in it can break the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import burst, main_screen, screen_text

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.screens.main import MainScreen

MINI = Path(__file__).resolve().parent.parent / "scenarios" / "mini.yaml"


def make_app() -> StepperApp:
    scenario = load_scenario(MINI)
    return StepperApp(scenario, build_trace(scenario), verify=False)


@pytest.mark.parametrize("keys", [
    ("g", "pagedown"),  # the list pages before it is laid out
    ("g", "pageup"),
    ("g", "down", "enter", "enter"),  # the second Enter would close the screen beneath the palette
    ("g", "enter", "enter", "enter"),
    ("ctrl+p", "down", "enter", "enter"),
    # Esc queued behind ctrl+p closes the palette before the letter typed into it is read: its search
    # must not start on a palette already gone
    ("escape", "up", "escape", "w", "minus", "question_mark", "ctrl+p", "e"),
])
async def test_keys_typed_fast_in_the_palette_never_close_the_stepper(keys):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await burst(pilot, *keys)
        await pilot.pause(0.3)
        assert app.return_code is None  # nothing crashed, nothing quit
        assert isinstance(app.screen_stack[1], MainScreen)
        for _ in range(3):  # Esc closes the palette, or the what-if dialog, or the help beneath it
            await pilot.press("escape")
        assert isinstance(app.screen, MainScreen) and "Step " in screen_text(app)


async def palette_hits(app, pilot, query: str) -> list[str]:
    """The step titles the go-to palette lists for `query`, as the screen shows them."""
    await pilot.press("g")
    await pilot.pause()
    await pilot.press(*query)
    await pilot.pause(0.6)
    lines = screen_text(app).splitlines()
    start = next(i for i, line in enumerate(lines) if f"🔎 {query}" in line)
    return [line.strip() for line in lines[start + 1:] if line.strip()[:1].isdigit()
            and ". " in line.strip()[:5]][:20]


async def test_go_to_finds_a_step_by_a_symbol_it_makes_or_uses():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        trace = main_screen(app).trace
        hits = await palette_hits(app, pilot, "dW_Q")
        makes = [f"{i + 1}. {s.title}" for i, s in enumerate(trace.steps) if "dW_Q" in s.outputs]
        assert makes and [h.split(" · ")[0] for h in hits] == makes  # the step that makes it, and no other
        await pilot.press("escape")
        hits = await palette_hits(app, pilot, "W_Q")
        touching = {f"{i + 1}. {s.title}" for i, s in enumerate(trace.steps) if "W_Q" in {*s.inputs, *s.outputs}}
        assert len(touching) >= 2 and touching <= {h.split(" · ")[0] for h in hits}
        await pilot.press("enter")  # the first hit opens
        await pilot.pause()
        assert main_screen(app).trace.steps[main_screen(app).index].title in hits[0]


async def test_the_diff_views_palette_is_as_safe():
    from stepper.tui.diff_app import DiffApp
    from stepper.tui.screens.diff import DiffScreen

    a = load_scenario(MINI)
    app = DiffApp(a, a, (build_trace(a), build_trace(a)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await burst(pilot, "ctrl+p", "pagedown", "down", "enter", "enter", "enter")
        await pilot.pause(0.3)
        assert app.return_code is None
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, DiffScreen)
