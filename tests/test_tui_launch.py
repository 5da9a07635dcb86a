"""The launcher's head start: the first frame painted from the child's text before numpy loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stepper.tui import launch
from stepper.tui.app import StepperApp
from stepper.tui.screens.main import MainScreen
from stepper.tui.screens.preview import PreviewScreen

MINI = str(Path(__file__).resolve().parent.parent / "scenarios" / "mini.yaml")


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def from_child(quiz: bool = False):
    pid, read_end = launch._in_child(MINI, False, None, quiz)
    return launch._collect(pid, read_end)


def test_the_first_frame_and_the_app_module_need_no_numpy():
    code = ("import sys, stepper.tui.app, stepper.tui.screens.preview; "
            "sys.exit(1 if 'numpy' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_quiz_mode_gets_no_preview():
    frame, payload = from_child(quiz=True)
    assert frame is None and payload


@pytest.mark.parametrize(("size", "pipeline_width"), [((120, 40), 32), ((80, 24), 25)])
async def test_the_preview_matches_the_main_screen_then_hands_over(monkeypatch, size, pipeline_width):
    frame, payload = from_child()
    assert frame is not None
    held = StepperApp(None, None, verify=False, preview=(frame, payload))
    monkeypatch.setattr(held, "_unpack", lambda: None)  # keep the preview on screen to look at it
    async with held.run_test(size=size) as pilot:
        for _ in range(50):  # under load the footer may paint a refresh or two after the rest
            await pilot.pause()
            preview = screen_lines(held)
            if preview[-1].strip():
                break
        assert isinstance(held.screen, PreviewScreen)
    monkeypatch.undo()
    app = StepperApp(None, None, verify=False, preview=(frame, payload))
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        for _ in range(50):  # a loaded machine may need a few more refreshes before the swap shows
            await pilot.pause()
            lines = screen_lines(app)
            if isinstance(app.screen, MainScreen) and "embed.tok [5×4]" in "\n".join(lines) and lines[-1].strip():
                break
        assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 2  # replaced, not stacked
        main = screen_lines(app)
        assert "embed.tok [5×4]" in "\n".join(main)  # the matrices arrived
    # the title bar, the pipeline, the header and the footer are the same: only the matrices appear
    assert preview[0] == main[0] and preview[-1] == main[-1]
    assert [line[:pipeline_width] for line in preview] == [line[:pipeline_width] for line in main]
    for line in ("Step 1/44  Forward", "Token embedding", "E = embed.tok[ids]"):
        assert any(line in p for p in preview)


async def test_the_collector_is_off_for_start_up_and_back_on_once_the_main_screen_is_up():
    import gc

    frame, payload = from_child()
    launch.hold_collector()
    try:
        assert not gc.isenabled()
        app = StepperApp(None, None, verify=False, preview=(frame, payload))
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            for _ in range(50):
                await pilot.pause()
                if gc.isenabled():
                    break
            assert isinstance(app.screen, MainScreen) and gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()  # the app froze this test process's objects; hand them back to the collector


def test_a_scenario_error_at_start_leaves_the_collector_on(tmp_path, capsys):
    import gc

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: encoder\nmodle: {}\n")
    try:
        assert launch.launch(bad) == 2
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "bad.yaml:" in capsys.readouterr().err
