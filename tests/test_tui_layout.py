"""Where a step's numbers land: its outputs are on screen without scrolling, at 120×40 on every step
of every bundled scenario, and the first step at 80×24 shows numbers, not only a heading. The same
walk checks that each step renders at 120×40: its number shown, no raw -inf or nan anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from textual.content import Content
from tui_helpers import main_screen, screen_lines, steady_lines

from stepper.engine import build_trace
from stepper.present.labels import dims
from stepper.present.numbers import MatrixFormat
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.parts import header_parts, meaning_parts
from stepper.tui.widgets.step_header import StepHeader
from stepper.tui.widgets.step_panel import StepPanel

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def visible_rows(app, screen: list[str] | None = None) -> list[str]:
    """The step panel's rows that are in view right now (in `screen`, if read already), less the
    "more below" line."""
    panel = main_screen(app).query_one(StepPanel)
    hint = panel.query_one("#more-below")
    region = panel.region
    lines = screen_lines(app, region) if screen is None else [
        row[region.x:region.right] for row in screen[region.y:region.bottom]]
    return lines[:len(lines) - (1 if hint.display else 0)]


def hidden_outputs(step, rows: list[str]) -> list[str]:
    """The outputs whose title and first row of numbers are not both in `rows`."""
    start = next((n for n, row in enumerate(rows) if row.lstrip().startswith("outputs ─")), None)
    if start is None:
        return list(step.outputs)
    missing = []
    for name, tensor in step.outputs.items():
        title = f"{name}[0] " if tensor.value.ndim > 2 else f"{name} {dims(tensor.shape)}"
        at = next((n for n in range(start + 1, len(rows)) if title in rows[n]), None)
        # the title, the column labels (a column of numbers has none) and the first row
        if at is None or at + (1 if tensor.value.ndim <= 1 else 2) >= len(rows):
            missing.append(name)
    return missing


def header_rows(trace, index: int, width: int) -> int:
    """The rows a step's header takes at `width` columns, wrapped as Textual wraps it."""
    return Content.assemble(*header_parts(trace, index)).get_height({}, width)


def lesson_rows(step, width: int) -> int:
    """The rows the lesson box's text takes at `width` columns."""
    return Content.assemble(*meaning_parts(step)).get_height({}, width)


def layout_form(trace, index: int, widths: tuple[int, ...], lesson_widths: tuple[int, ...]) -> tuple:
    """What decides where a step's outputs land on the panel: the rows its header takes at each of
    `widths` (the panel loses a column to its scrollbar when a step overflows), the rows of the
    lesson box below the panel at each of `lesson_widths` (it takes its rows from the panel, and
    loses a column to its own scrollbar when the lesson overflows), and each
    output's and input's shape, labels and printed width (the inputs decide whether the panel
    overflows). Steps of one form are laid out alike: layer 5's softmax as layer 4's, when neither
    has a lesson of its own."""
    step = trace.steps[index]
    rows = tuple(header_rows(trace, index, width) for width in widths)
    lesson = tuple(lesson_rows(step, width) for width in lesson_widths)
    tensors = []
    for name, tensor in (*step.outputs.items(), *step.inputs.items()):
        fmt = MatrixFormat(np.asarray(tensor.value))
        printed = max((len(fmt(v)) for v in np.ravel(tensor.value)), default=0)
        tensors.append((name, tensor.value.shape, fmt.integer, fmt.scientific, printed,
                        tuple(tensor.rows or ()), tuple(tensor.cols or ())))
    return re.sub(r"\d+", "9", step.id), rows, lesson, tuple(tensors), step.id == "upd.curve"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_every_steps_outputs_are_in_view_at_120x40(path):
    """Every step of every form (`layout_form`): a deep model's layers repeat one form per stage, and
    walking each of 8 layers' copies would take minutes; the walk checks, at every step it visits,
    that the form's header rows are the real header's, so the forms group only steps laid out alike."""
    scenario = load_scenario(path)
    trace = build_trace(scenario)
    app = StepperApp(scenario, trace, verify=False)
    forms = set()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await pilot.pause()
        header = screen.query_one(StepHeader)
        widths = tuple(header.content_size.width + d for d in (-1, 0, 1))
        meaning = screen.query_one("#meaning")
        lesson_widths = tuple(meaning.content_size.width + d for d in (-1, 0, 1))
        below = {}
        for i, step in enumerate(trace.steps):
            form = layout_form(trace, i, widths, lesson_widths)
            if form in forms:
                continue
            forms.add(form)
            screen.go_to(i)
            lines = await steady_lines(pilot)
            # the form's header rows must be the header's real height, or the forms would group wrongly
            assert header.content_size.width in widths, step.id
            assert header.content_size.height == header_rows(trace, i, header.content_size.width), step.id
            assert meaning.content_size.width in lesson_widths, step.id
            assert meaning.content_size.height == lesson_rows(step, meaning.content_size.width), step.id
            text = "\n".join(lines)
            assert f"Step {i + 1}/{len(trace.steps)}" in text, step.id
            assert "-inf" not in text, step.id
            # a run that diverged (lr_too_high_noclip) is meant to show the NaN loss of the update that stopped it
            if not (trace.diverged is not None and step.id == "upd.curve"):
                assert not re.search(r"\bnan\b", text), step.id
            missing = hidden_outputs(step, visible_rows(app, lines))
            if missing:
                below[f"{i + 1} {step.id}"] = missing
        assert below == {}


async def test_the_first_step_at_80x24_shows_its_numbers():
    scenario = load_scenario(SCENARIOS[0].parent / "mini.yaml")
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        step = main_screen(app).trace.steps[0]
        assert hidden_outputs(step, visible_rows(app)) == []


async def test_outputs_that_fit_stacked_are_shown_whole_not_narrowed():
    """mini's "Through Q·Kᵀ" makes dQ and dK [2×4]: stacked, they take 8 of the 19 rows in view, so
    no column of either may be elided to squeeze them side by side."""
    scenario = load_scenario(SCENARIOS[0].parent / "mini.yaml")
    trace = build_trace(scenario)
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main_screen(app).go_to(trace.index_of("bwd.L0.attn.scores"))
        await pilot.pause()
        rows = visible_rows(app)
        end = next(n for n, row in enumerate(rows) if row.lstrip().startswith("inputs ─"))
        labels = [row.split() for row in rows[:end] if row.split()[:1] == ["d0"]]
        assert labels == [["d0", "d1", "d2", "d3"]] * 2


@pytest.mark.parametrize("size", [(20, 8), (30, 10), (44, 12)])
async def test_a_screen_too_narrow_for_a_narrower_table_still_draws_the_outputs(size):
    """Under 24 columns for the outputs there is no narrower table to try: the outputs are drawn at
    the width there is (the fuzz test found `None` rendered there, which stopped the app)."""
    scenario = load_scenario(SCENARIOS[0].parent / "mini.yaml")
    trace = build_trace(scenario)
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=size) as pilot:
        for step_id in ("fwd.embed", "bwd.L0.attn.scores"):
            main_screen(app).go_to(trace.index_of(step_id))
            await pilot.pause()
        await pilot.pause()
        assert app.is_running  # run_test raises what stopped the app, if anything did
