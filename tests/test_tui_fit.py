"""Fitting a step's outputs without rendering every try: the heights worked out must be Rich's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.columns import Columns
from rich.console import Console
from rich.segment import Segment
from textual.color import Color

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.columns_fit import columns_height
from stepper.tui.heatmap import Heatmap, Palette
from stepper.tui.widgets.matrices import MatrixLayout

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


class Block:
    """A renderable of a fixed size, as a heatmap is."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement(self.width, self.width)

    def __rich_console__(self, console, options):
        for _ in range(self.height):
            yield Segment("x" * self.width)
            yield Segment.line()


def rendered_height(items, width: int, gap: int) -> int:
    console = Console(width=width, file=None, color_system=None)
    return len(console.render_lines(Columns(items, padding=(gap, 3)), console.options.update_width(width), pad=False))


@pytest.mark.parametrize("seed", range(40))
def test_the_arithmetic_matches_rich_for_blocks_of_any_size(seed):
    rng = np.random.default_rng(seed)
    sizes = [(int(rng.integers(3, 50)), int(rng.integers(1, 14))) for _ in range(rng.integers(1, 12))]
    for width in (40, 60, 87, 120, 200):
        for gap in (0, 1):
            want = columns_height(sizes, width, row_gap=gap, column_gap=3)
            if want is not None:
                assert want == rendered_height([Block(w, h) for w, h in sizes], width, gap), (sizes, width, gap)


@pytest.mark.parametrize("name", ["char_gpt", "pizza_decoder", "multihead_8x64", "mlp_by_hand"])
def test_every_try_of_every_step_has_the_height_worked_out(name):
    """The tables of each step's outputs, at every width and row count `_fitted` tries."""
    trace = build_trace(load_scenario(SCENARIOS / f"{name}.yaml"))
    palette = Palette(Color.parse("#1e1e1e"))
    checked = 0
    for step in trace.steps:
        layout = MatrixLayout(trace, step, palette, max_rows=12, gap=1)
        for width in (30, 60, 87):
            for table_width in {width, width // 2 - 3, width // 3 - 3}:
                for rows in (12, 5, 3):
                    maps = layout._maps(step.outputs, table_width, "outputs", rows)
                    sizes = [(m.width, m.height) if isinstance(m, Heatmap) else (m.cell_len, 1) for m in maps]
                    want = columns_height(sizes, width, row_gap=1, column_gap=3)
                    if want is not None:
                        assert want == rendered_height(maps, width, 1), (step.id, width, table_width, rows)
                        checked += 1
    assert checked


async def test_a_step_draws_each_table_once(monkeypatch):
    """Textual asks for a widget's lines to measure it and again to paint it; fitting tried sizes by
    drawing them: every table was drawn several times per key."""
    from stepper.tui.app import StepperApp
    from stepper.tui.heatmap import Heatmap as Drawn

    drawn: list[int] = []
    draw = Drawn.__rich_console__

    def counted(self, console, options):
        drawn.append(id(self))
        yield from draw(self, console, options)

    monkeypatch.setattr(Drawn, "__rich_console__", counted)
    scenario = load_scenario(SCENARIOS / "mini.yaml")
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(8):
            drawn.clear()
            await pilot.press("n")
            await pilot.pause()
            assert drawn and len(drawn) == len(set(drawn)), "a table drawn twice for one key"
