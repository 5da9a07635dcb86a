"""The quiz in the app and in `stepper quiz` judge a reply alike, and the answer box never eats a step key."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_helpers import burst, main_screen, record_notices, screen_text

from stepper.commands.quiz import run_quiz
from stepper.engine import build_trace
from stepper.quiz import question_for
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp

MINI = Path(__file__).resolve().parent.parent / "scenarios" / "mini.yaml"
SHAPE_STEP = "fwd.pos"  # asks for a shape


def quiz_app() -> StepperApp:
    scenario = load_scenario(MINI)
    return StepperApp(scenario, build_trace(scenario), verify=False, quiz=True)


async def tui_outcome(reply: str) -> str:
    """How the app takes `reply` to the shape question: refused, skipped, right or wrong."""
    app = quiz_app()
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        screen.go_to(screen.trace.index_of(SHAPE_STEP))
        await pilot.pause()
        await pilot.pause()
        await pilot.press(*reply, "enter")
        await pilot.pause()
        text = screen_text(app)
        if any(title == "Not marked" for title, _ in notices):
            assert isinstance(app.focused, Input) and "Predict" in text  # asked again
            return "refused"
        return ("skipped" if "· skipped" in text else "right" if "✓ right" in text
                else "wrong" if "✗ not quite" in text else "?")


def cli_outcome(reply: str) -> str:
    out = io.StringIO()
    run_quiz(str(MINI), steps=SHAPE_STEP, limit=1, export=None, force=False, stdin=io.StringIO(reply + "\n"),
             out=out)
    text = out.getvalue()
    return ("refused" if "· not marked" in text else "skipped" if "· skipped" in text
            else "right" if "✓ you said" in text else "wrong" if "✗ you said" in text else "?")


@pytest.mark.parametrize("reply", ["2x4abc", "wide", "", "skip", "9x9", "right"])
async def test_the_app_and_the_plain_quiz_judge_a_reply_alike(reply):
    if reply == "right":
        trace = build_trace(load_scenario(MINI))
        reply = question_for(trace, trace.index_of(SHAPE_STEP)).answer
    expected = {"2x4abc": "refused", "wide": "refused", "": "skipped", "skip": "skipped", "9x9": "wrong"}
    tui, cli = await tui_outcome(reply), cli_outcome(reply)
    assert tui == cli == expected.get(reply, "right"), (reply, tui, cli)


async def test_a_step_key_typed_right_after_the_answer_steps():
    app = quiz_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        answer = question_for(screen.trace, 0).answer
        await burst(pilot, *answer, "enter", "n")  # typed quickly, as one does
        await pilot.pause()
        assert screen.index == 1 and screen.quiz.score.line().startswith("1/1")
        box = screen.query_one("#quiz-answer", Input)
        assert box.value == ""  # the n did not land in the box of the next question
        await burst(pilot, "escape", "n")  # Esc leaves this question for later: n steps at once
        await pilot.pause()
        assert screen.index == 2 and "Step 3/44" in screen_text(app)


async def test_esc_pressed_as_a_question_appears_keeps_the_next_keys_out_of_its_box():
    app = quiz_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        screen.go_to(screen.trace.index_of("fwd.L0.ffn.down"))  # from one question to another
        await pilot.press("escape")  # leave it at once: the box must not take focus back once it is shown
        assert not isinstance(app.focused, Input)
        await pilot.press("w")  # so w is no letter of an answer: it edits
        await pilot.pause()
        assert type(app.screen).__name__ == "EditScreen"
        assert screen.query_one("#quiz-answer", Input).value == ""

