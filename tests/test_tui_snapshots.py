"""SVG snapshots of the screens a learner spends most time on (update: pytest --snapshot-update)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import steady_lines

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def verified_app(name: str, step_id: str | None = None) -> StepperApp:
    """Verified up front, so every badge is already ✓ and the picture never depends on timing."""
    from stepper.verify.compare import verify_trace
    from stepper.verify.reference import torch_reference

    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    trace = build_trace(scenario)
    app = StepperApp(scenario, trace, verify=False, verdicts=verify_trace(trace, torch_reference(scenario)))
    if step_id is not None:
        index = trace.index_of(step_id)

        def jump() -> None:
            app.screen.go_to(index)

        app.call_after_refresh(jump)
    return app


async def settle(pilot) -> None:
    """Until the screen stops changing: the step jumped to, its outputs fitted under the header a
    refresh later, the key bar filled in (a fixed pause was too short on a loaded machine)."""
    await pilot.pause(0.2)
    await steady_lines(pilot)


@pytest.mark.parametrize(("name", "step_id", "size"), [
    ("mini", None, (120, 40)),                             # the first frame: token embedding
    ("pizza_decoder", "fwd.L0.attn.mask", (120, 40)),      # scores with the causal mask, −∞
    ("pizza_decoder", "fwd.L0.attn.softmax", (120, 40)),   # softmax rows and their picture
    ("mini", "bwd.L0.attn.scores", (120, 40)),             # a backward step: dQ, dK
    ("mini", None, (80, 24)),                              # the smallest supported terminal
    ("translate_by_hand", "fwd.dec.L0.cross.softmax", (120, 40)),  # cross-attention: target rows, source columns
], ids=["embedding", "scores-mask", "softmax", "backward-scores", "embedding-80x24", "cross-softmax"])
def test_snapshot(snap_compare, name, step_id, size):
    assert snap_compare(verified_app(name, step_id), terminal_size=size, run_before=settle)


def quiz_app() -> StepperApp:
    """Quiz mode asking about the attention weights: the outputs and their picture held back."""
    app = verified_app("mini", "fwd.L0.attn.softmax")
    app.quiz = True
    return app


async def steady_cursor(pilot) -> None:
    await pilot.pause(0.2)
    from textual.widgets import Input

    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await pilot.pause()
    await steady_lines(pilot)


async def edit_token_2(pilot) -> None:
    """What if the decoder read "hate" instead of "love" at position 2? Rows 0 and 1 cannot see it."""
    from stepper.tui.whatif_view import EditRequest, apply, recompute
    from stepper.tui.whatif_work import EditRecomputed

    screen = pilot.app.screen
    scenario, label = apply(screen.scenario, EditRequest("token", position=2, token="hate"), {})
    screen.show_edit(EditRecomputed(recompute(screen.original, scenario, label)))
    screen.go_to(screen.trace.index_of("fwd.L0.attn.softmax"))
    await pilot.pause(0.2)
    await steady_lines(pilot)


@pytest.mark.parametrize(("make", "run_before"), [
    (quiz_app, steady_cursor),
    (lambda: verified_app("pizza_decoder"), edit_token_2),
], ids=["quiz-question", "whatif-causal"])
def test_mode_snapshot(snap_compare, make, run_before):
    assert snap_compare(make(), terminal_size=(120, 40), run_before=run_before)


def sentiment_app() -> StepperApp:
    """The sentiment scenario, verified up front; the trace after training is built by the app's worker."""
    return verified_app("tiny_sentiment_train")


async def after_training_softmax(pilot) -> None:
    """Head 0's attention weights after training: every entry moved (•), by up to how much."""
    from tests.tui_helpers import wait_for

    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.after is not None)
    screen.go_to(screen.trace.index_of("fwd.L0.attn.h0.softmax"))
    await pilot.press("t")
    await pilot.pause(0.2)
    await steady_lines(pilot)


async def training_screen_on_update_8(pilot) -> None:
    """The training screen with its cursor on update 8, whose batch pads three reviews to a fourth's length."""
    from tests.tui_helpers import wait_for

    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.update_views is not None)
    await pilot.press("T")
    await wait_for(pilot, lambda: "update 1 of" in "".join(str(w.render()) for w in pilot.app.screen.query("#update")))
    pilot.app.screen.move_to(7)
    await pilot.pause(0.3)
    await steady_lines(pilot)


async def heads_view_on_head_1(pilot) -> None:
    """The heads view on layer 0's head 1 and the second review: its map, its shares, the FFN units."""
    from tests.tui_helpers import screen_text, wait_for

    await pilot.press("H")
    await wait_for(pilot, lambda: "FFN units of layer 0" in screen_text(pilot.app))
    await pilot.press("down", "right")
    await pilot.pause(0.3)
    await steady_lines(pilot)


@pytest.mark.parametrize("run_before", [after_training_softmax, training_screen_on_update_8, heads_view_on_head_1],
                         ids=["after-training-softmax", "training-screen", "heads-view"])
def test_training_snapshot(snap_compare, run_before):
    assert snap_compare(sentiment_app(), terminal_size=(120, 40), run_before=run_before)
