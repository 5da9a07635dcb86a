"""`c`: the cost screen, pressed as a learner presses it: the chart, and figures equal to the cost model's."""

from __future__ import annotations

from pathlib import Path

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.scenario.budget import budget
from stepper.tui.app import StepperApp
from stepper.tui.bindings import every_binding_id
from tests.tui_helpers import screen_text

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


async def test_c_opens_the_cost_screen_with_the_model_s_figures_and_esc_closes_it():
    scenario = load_scenario(SCENARIOS / "char_gpt.yaml")
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    b = budget(scenario)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        from stepper.tui.screens.cost import CostScreen
        from stepper.tui.widgets.cost_plot import CostPlot

        assert isinstance(app.screen, CostScreen)
        text = screen_text(app)
        assert f"{b.forward_flops:,}" in text  # the total of the forward FLOPs, as the model counts it
        assert f"{b.kv_cache_bytes:,} B" in text and "scores Q·Kᵀ" in text
        assert app.screen.query_one(CostPlot).series["attention (T²)"][0] > 0
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CostScreen)


def test_the_cost_key_has_an_id_a_keymap_may_name():
    assert {"cost", "close-cost"} <= every_binding_id()
