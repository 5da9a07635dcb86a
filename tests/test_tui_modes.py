"""Pilot tests of the learning modes: quiz, what-if edits, the diff view, training and generation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Input, Select
from tui_helpers import main_screen, record_notices, screen_text, walk_every_step

from stepper.engine import build_trace
from stepper.quiz import question_for
from stepper.scenario import load_scenario, parse_scenario
from stepper.scenario.types import GenerateConfig, OptimConfig
from stepper.tui.app import StepperApp
from stepper.tui.diff_app import DiffApp
from stepper.tui.screens.edit import TOKENS, EditScreen

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
MINI = SCENARIOS / "mini.yaml"
DECODER_6 = """
name: dec
model: {kind: decoder, d_model: 4, n_heads: 2, d_ff: 8}
input: {tokens: [a, b, c, d, e, a]}
task: {kind: next_token}
"""


def app_for(scenario, *, quiz: bool = False) -> StepperApp:
    return StepperApp(scenario, build_trace(scenario), verify=False, quiz=quiz)




async def go(pilot, step_id: str) -> None:
    screen = main_screen(pilot.app)
    screen.go_to(screen.trace.index_of(step_id))
    await pilot.pause()


def table_rows(text: str, title: str, n: int) -> list[str]:
    """The `n` data lines under the heatmap titled `title` (its column header skipped)."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if title in line)
    col = lines[at].index(title)
    return [line[col:col + 50] for line in lines[at + 2: at + 2 + n]]


def trace_losses(app) -> str:
    losses = main_screen(app).trace.losses
    return f"{losses[0]:.4g} → {losses[-1]:.4g}"


def gen_decoder():
    sc = parse_scenario((SCENARIOS / "pizza_decoder.yaml").read_text().replace("max_len: 4", "max_len: 8"))
    sc.generate = GenerateConfig(max_new_tokens=3, temperature=0.7, top_k=2, top_p=1.0, seed=0, greedy=False)
    return sc


def trained_mlp():
    sc = load_scenario(SCENARIOS / "mlp_by_hand.yaml")
    sc.optim = OptimConfig(kind="momentum", lr=0.1, momentum=0.9, steps=20)
    return sc


# ---- quiz ---------------------------------------------------------------------------------

async def test_quiz_hides_the_outputs_then_marks_a_right_answer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = app_for(load_scenario(MINI), quiz=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        question = question_for(screen.trace, 0)
        text = screen_text(app)
        assert question.prompt[:40] in text and "hidden until you answer" in text
        assert "E [2×4]" not in text and "→  ?" in text  # neither the output nor its shape shows
        assert isinstance(app.focused, Input)
        await pilot.press(*question.answer, "enter")
        text = screen_text(app)
        assert "✓ right" in text and "E [2×4]" in text and "quiz 1/1 right" in text
        assert [(q.step_id, v.ok) for q, v in screen.quiz.results(screen.trace)] == [("fwd.embed", True)]
        await pilot.press("e")
        await app.workers.wait_for_complete()
        exported = (tmp_path / "mini-trace.md").read_text()
        assert "## Quiz" in exported and "Score: 1 of 1 right" in exported


async def test_a_wrong_answer_shows_the_true_value_and_why():
    app = app_for(load_scenario(MINI), quiz=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await go(pilot, "fwd.L0.attn.softmax")
        question = question_for(main_screen(app).trace, main_screen(app).index)
        assert question.kind == "argmax"
        wrong = next(c for c in question.choices if c != question.answer)
        await pilot.press(*wrong, "enter")
        text = screen_text(app)
        assert "✗ not quite" in text and f"you said '{wrong}'" in text and "why" in text
        assert "quiz 0/1 right" in text


async def test_answered_steps_keep_their_verdict_and_typing_never_steps():
    app = app_for(load_scenario(MINI), quiz=True)
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n", "p", "space", "enter")  # letters of an answer, not stepping keys
        screen = main_screen(app)
        await pilot.pause()
        # "np" is no number: not marked, the box stays for another try
        assert screen.index == 0 and isinstance(app.focused, Input)
        assert any("not a number" in message for _, message in notices)
        await pilot.press("backspace", "backspace", "backspace", "9", "enter")  # a wrong number
        assert screen.index == 0 and "you said '9'" in screen_text(app)
        await pilot.press("n")  # the answer box is gone: n steps again, and the next step asks
        assert screen.index == 1 and isinstance(app.focused, Input)
        await pilot.press("escape", "p")  # Esc leaves the question; p steps back
        assert screen.index == 0 and "✗ not quite" in screen_text(app)
        assert not isinstance(app.focused, Input)
        await pilot.press("z")  # quiz off: no question, every output shows
        text = screen_text(app)
        assert "Predict" not in text and "E [2×4]" in text
        await pilot.press("n", "z")  # on again at an unanswered step: it asks
        assert "hidden until you answer" in screen_text(app)


async def test_an_edited_trace_exports_the_quiz_with_the_answers_on_other_numbers_apart(tmp_path, monkeypatch):
    """An answer about the original numbers is no answer about the edited ones: each export puts the
    answers given on the trace it writes beside their steps, keeps the others in its quiz section under
    the numbers they were given on, and the notice says which trace was written."""
    monkeypatch.chdir(tmp_path)
    app = app_for(load_scenario(MINI), quiz=True)
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        await pilot.press(*question_for(screen.trace, 0).answer, "enter")  # on the original numbers
        await pilot.press("escape")
        await go(pilot, "fwd.head")
        await pilot.press("escape", "w")  # leave the question there unanswered, then edit
        await pilot.pause()
        await pilot.click("#edit-value")
        await pilot.press("-", "2", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.role == "edited" and "quiz 1/1 right" in screen_text(app)  # the session's score
        await pilot.press("escape", "e")
        await app.workers.wait_for_complete()
        edited = (tmp_path / "mini-trace.md").read_text()
        assert "What-if" in edited and "You answered" not in edited  # nothing beside the edited tables
        quiz = edited[edited.index("## Quiz"):]
        assert "### Answered on the original numbers" in quiz and "Score: 1 of 1 right" in quiz
        assert any("Exported the edited trace" in message for _, message in notices)
        await pilot.press("o", "escape", "e")  # the original's question there waits too
        await app.workers.wait_for_complete()
        original = (tmp_path / "mini-trace-2.md").read_text()
        assert "Score: 1 of 1 right" in original and "What-if" not in original
        assert any("the original trace, without the what-if edit" in message for _, message in notices)


async def test_quiz_keeps_the_sampled_token_out_of_sight_until_answered():
    app = app_for(gen_decoder(), quiz=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await go(pilot, "gen.1.sample")
        text = screen_text(app)
        assert "sample → '" not in text and "token = " not in text


# ---- what-if ------------------------------------------------------------------------------

async def test_editing_a_w2_cell_ripples_from_the_ffn_on_and_o_flips_back():
    app = app_for(load_scenario(MINI))
    async with app.run_test(size=(120, 40)) as pilot:
        await go(pilot, "fwd.L0.ffn.down")
        await pilot.press("w")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, EditScreen)
        assert dialog.query_one("#edit-target", Select).value == "layers.0.ffn.W_2"  # this step's weight
        await pilot.click("#edit-value")
        await pilot.press("3", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = main_screen(app)
        assert screen.role == "edited"
        text = screen_text(app)
        assert "W_2[f0, d0]" in text and "→ 3" in text  # the title bar names the edit
        assert "W_2 [8×4] · 1 changed" in text and "F [2×4] · 2 changed" in text and "•" in text
        # the mark sits on its own number, with a space before it: never glued to the cell on its left
        assert re.search(r" •-?\d", text) and not re.search(r"\d•", text)
        await go(pilot, "fwd.L0.attn.softmax")  # before the FFN: nothing moved
        text = screen_text(app)
        assert "A [2×2] · unchanged" in text
        assert not any("•" in row for row in table_rows(text, "A [2×2]", 2))
        await go(pilot, "bwd.L0.attn.q")  # the gradients are downstream of the edit too (in view: outputs first)
        assert re.search(r"dW_Q \[4×4\] · \d+ changed", screen_text(app))
        await go(pilot, "fwd.L0.ffn.down")
        assert "3.000" in screen_text(app)
        await pilot.press("o")
        text = screen_text(app)
        assert screen.role == "original" and "ORIGINAL" in text and "3.000" not in text
        assert "F [2×4] · 2 changed" in text  # the same cells are marked on the original numbers


async def test_a_decoder_token_edit_at_position_3_leaves_rows_0_to_2_unmarked():
    app = app_for(parse_scenario(DECODER_6))
    async with app.run_test(size=(120, 60)) as pilot:  # tall enough for every table to be on screen
        await pilot.pause()
        await pilot.press("w")  # on the embedding step the dialog starts on the tokens
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#edit-target", Select).value == TOKENS
        dialog.query_one("#edit-row", Select).value = (TOKENS, 3)
        dialog.query_one("#edit-col", Select).value = (TOKENS, "e")
        await pilot.pause()
        await pilot.click("#edit-apply")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "token 3: d → e" in screen_text(app)
        for step_id, title in (("fwd.L0.ffn.down", "F [5×4]"), ("fwd.head", "logits [5×6]")):
            await go(pilot, step_id)
            rows = table_rows(screen_text(app), title, 5)
            assert not any("•" in row for row in rows[:3]), (step_id, rows)
            assert all("•" in row for row in rows[3:]), (step_id, rows)


async def test_undo_all_edits_returns_to_the_original():
    app = app_for(load_scenario(MINI))
    async with app.run_test(size=(120, 40)) as pilot:
        await go(pilot, "fwd.head")
        await pilot.press("w")
        await pilot.pause()
        await pilot.click("#edit-value")
        await pilot.press("-", "2", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert main_screen(app).edited is not None
        await pilot.press("w")
        await pilot.pause()
        await pilot.click("#edit-reset")
        await pilot.pause()
        screen = main_screen(app)
        assert screen.edited is None and screen.trace is screen.original
        assert "what-if" not in screen_text(app) and "◆" not in screen_text(app)


# ---- diff ---------------------------------------------------------------------------------

async def test_diff_view_pairs_steps_and_lists_the_scale_as_only_in_a():
    a = load_scenario(MINI)
    b = parse_scenario(MINI.read_text().replace("pooling: mean", "pooling: mean\n  attention_scale: false"))
    app = DiffApp(a, b, (build_trace(a), build_trace(b)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert re.search(r"A only\s+Scale by 1/√d_k", text)
        assert re.search(r"=\s+Token embedding", text)  # identical before the scores
        screen = app.screen
        for _ in range(len(screen.query_one("#diff-list").entries)):
            if "Scale by 1/√d_k" in screen_text(app).splitlines()[2]:
                break
            await pilot.press("n")
        assert "Only A has this step" in screen_text(app)
        await pilot.press("n", "n")  # the softmax, paired and different
        text = screen_text(app)
        assert "Softmax over each row" in text and "max |B − A| = " in text
        assert "A: A" in text and "B: A" in text and "Δ = B − A" in text
        await pilot.press("q")
    assert app.return_code == 0


# ---- training and generation --------------------------------------------------------------

@pytest.mark.parametrize("make", [gen_decoder, trained_mlp], ids=["generation", "training"])
async def test_every_step_of_the_new_phases_renders(make):
    app = app_for(make())
    async with app.run_test(size=(120, 40)) as pilot:
        await walk_every_step(app, pilot)


async def test_generation_group_shows_the_text_growing_and_the_distribution():
    app = app_for(gen_decoder())
    async with app.run_test(size=(120, 40)) as pilot:
        trace = main_screen(app).trace
        await go(pilot, "gen.2.sample")
        text = screen_text(app)
        assert "GENERATION" in text and "Token 2" in text
        assert f"<bos> I love pizza {' '.join(trace.generated[:2])}" in text
        await go(pilot, "gen.1.softmax")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "after temperature and filtering" in text
        assert "softmax(z): τ = 1" in text and "τ = 0.7, filtered" in text


async def test_training_group_plots_the_loss_curve():
    app = app_for(trained_mlp())
    async with app.run_test(size=(120, 40)) as pilot:
        await go(pilot, "upd.curve")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "TRAINING" in text and "Loss curve" in text and "Step 13/13  Training" in text
        assert "the loss before training and after each of" in text
        assert f"L: {trace_losses(app)}" in text


def test_a_lesson_comes_with_the_general_meaning_and_a_question_hides_both():
    from types import SimpleNamespace

    from stepper.trace import Formula
    from stepper.tui.parts import meaning_parts

    formula = Formula(plain="x", latex="x", meaning="−∞ (not 0) is what makes a weight vanish.")
    step = SimpleNamespace(lesson="Token 2 may not see token 3.", formula=formula)
    text = "".join(p if isinstance(p, str) else p[0] for p in meaning_parts(step))
    assert "Token 2 may not see token 3." in text and "−∞ (not 0)" in text
    asking = "".join(p if isinstance(p, str) else p[0] for p in meaning_parts(step, asking=True))
    assert "token 3" not in asking and "−∞" not in asking and "follows your answer" in asking
    edited = "".join(p if isinstance(p, str) else p[0] for p in meaning_parts(step, shown="edited"))
    assert "written for the original numbers" in edited and "−∞ (not 0)" in edited


def test_a_tiny_negative_among_large_numbers_reads_as_zero_not_minus_zero():
    import numpy as np

    from stepper.present.numbers import MatrixFormat

    fmt = MatrixFormat(np.array([1.5, -0.0001, 0.3]))
    assert [fmt(v) for v in (-0.0001, 0.0004, -0.0006, 1.5)] == ["0.000", "0.000", "-0.001", "1.500"]
