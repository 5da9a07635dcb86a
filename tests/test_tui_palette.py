"""The go-to palette (`g`, ctrl+p): what it finds, and that no key sequence in it can break the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette
from tui_helpers import burst, screen_text

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
])
async def test_keys_typed_fast_in_the_palette_never_close_the_stepper(keys):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await burst(pilot, *keys)
        await pilot.pause(0.3)
        assert isinstance(app.screen, MainScreen) or CommandPalette.is_open(app)
        assert "Step " in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
    assert app.return_code is None  # still running when the test closed it: nothing crashed
