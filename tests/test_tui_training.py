"""Before/after training (t) and the training screen (T), pressed as a learner presses them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from tests.tui_helpers import main_screen, record_notices, screen_text, wait_for

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SOFTMAX = "fwd.L0.attn.h0.softmax"


def sentiment_app() -> StepperApp:
    scenario = load_scenario(SCENARIOS / "tiny_sentiment_train.yaml")
    return StepperApp(scenario, build_trace(scenario), verify=False)


def first_row(text: str, label: str) -> list[str]:
    """The numbers of the table row labelled `label` under the first table that has it."""
    row = next(line for line in text.splitlines() if re.search(rf"▕\s*{label} [•\s-]*\d", line))
    return re.findall(r"•?-?\d+\.\d+", row.split("▕", 1)[1])[:4]


async def test_t_flips_the_same_step_to_the_numbers_after_training_and_marks_what_moved():
    app = sentiment_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.after is not None, what="the trace after training")
        screen.go_to(screen.trace.index_of(SOFTMAX))
        await pilot.pause()
        before = screen_text(app)
        assert "before training (t)" in before and "•" not in before
        await pilot.press("t")
        after = screen_text(app)
        assert screen.role == "trained" and screen.trace.steps[screen.index].id == SOFTMAX
        assert "after training (t)" in after and "before training" not in after
        # the same step, the trained weights' numbers, each moved entry marked, with how far it went
        a_after = screen.after.trace.steps[screen.index].outputs["A"].value
        a_before = screen.original.steps[screen.original.index_of(SOFTMAX)].outputs["A"].value
        largest = float(np.abs(a_after - a_before).max())
        assert re.search(r"A \[4×4\] · 16 changed, by up to " + f"{largest:.4f}".rstrip("0"), after)
        assert first_row(after, "this") == [f"•{x:.3f}" for x in a_after[0]]
        assert first_row(before, "this") == [f"{x:.3f}" for x in a_before[0]]
        assert "◆" in after and "• changed by training" in after
        await pilot.press("t")
        assert screen.role == "original" and "before training (t)" in screen_text(app)
        assert screen.trace.steps[screen.index].id == SOFTMAX


async def test_t_on_a_training_step_goes_to_the_last_step_the_trace_after_training_has():
    app = sentiment_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.after is not None)
        screen.go_to(screen.trace.index_of("upd.curve"))
        await pilot.pause()
        await pilot.press("t")
        assert screen.trace.steps[screen.index].id == screen.after.trace.steps[-1].id


async def test_t_before_the_trace_after_training_is_ready_says_so_instead_of_waiting():
    app = sentiment_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        notices = record_notices(app)
        screen.after = None
        screen.update_views = None
        screen.action_toggle_trained()
        screen.action_training()
        assert screen.role == "original"
        assert any("still being built" in m for _, m in notices)
        assert any("still being prepared" in m for _, m in notices)
        await pilot.pause()


async def test_the_training_screen_cursor_shows_that_updates_batch_and_figures():
    app = sentiment_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        log, config = screen.original.training, screen.original.config
        await wait_for(pilot, lambda: screen.update_views is not None)
        await pilot.press("T")
        await wait_for(pilot, lambda: "update 1 of 60" in screen_text(app), what="the training screen")
        for key, t in (("right", 1), ("right", 2), ("end", 59), ("home", 0), ("pagedown", 3), ("left", 2)):
            await pilot.press(key)
            text = screen_text(app)
            assert f"update {t + 1} of {log.updates}" in text
            assert re.search(rf"batch loss +{log.batch_losses[t]:.4g}\b", text)
            assert re.search(rf"learning rate +{log.lr[t]:.4g}\b", text)
            assert re.search(rf"grad norm +{log.grad_norm[t]:.4g}\b", text)
            fired = log.grad_norm[t] > config["optim"]["clip_grad_norm"]
            assert ("fired: scaled by" in text) == fired and ("not fired" in text) == (not fired)
            for i in log.batches[t]:
                tokens = config["data"]["examples"][int(i)]["tokens"]
                assert re.search(rf"#{int(i)} +{' +'.join(map(re.escape, tokens))}", text), (t, i)
        # update 8 (t = 7) pads three of its four reviews to the five-word one
        screen_now = app.screen
        screen_now.move_to(7)
        await pilot.pause()
        text = screen_text(app)
        assert text.count("<pad>") >= 3 and "struck: masked" in text
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.trace.steps[screen.index].phase == "update"


def test_diff_trained_pairs_the_example_before_and_after_training(capsys):
    import io

    from stepper.cli import main
    from stepper.commands.diff import run_diff, trained_pair

    path = str(SCENARIOS / "tiny_sentiment_train.yaml")
    before, after = trained_pair(path)
    trace = build_trace(before)
    assert all(np.array_equal(after.params[k], trace.trained[k]) for k in trace.trained)
    out = io.StringIO()
    assert run_diff(path, None, trained=True, out=out) == 0
    text = out.getvalue()
    assert f"B = {path} after training" in text and "fwd.L0.attn.h0.softmax" in text
    assert re.search(r"loss: A \S+ +B \S+ +Δ -", text)  # training lowered the traced example's loss
    assert main(["diff", str(SCENARIOS / "mini.yaml"), "--trained"]) == 2
    assert "needs a scenario that trains" in capsys.readouterr().err


async def test_help_on_the_training_screen_lists_its_own_keys():
    app = sentiment_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.update_views is not None)
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "update-next" in screen_text(app), what="the training screen's help")
        text = screen_text(app)
        assert "next update" in text and "update-next" in text and "cyan line is the" in text
