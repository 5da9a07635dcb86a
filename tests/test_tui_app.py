"""Pilot tests: press the learner's keys and read what the screen shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import main_screen, record_notices, screen_text, wait_for, walk_every_step

from stepper.engine import build_trace
from stepper.present.roles import symbol_roles
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.screens.help import HelpScreen
from stepper.tui.screens.main import MainScreen

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
MINI = str(SCENARIOS / "mini.yaml")
DECODER = str(SCENARIOS / "pizza_decoder.yaml")


def make_app(path: str = MINI, *, verify: bool = False) -> StepperApp:
    scenario = load_scenario(path)
    return StepperApp(scenario, build_trace(scenario), verify=verify)




def current(app: StepperApp) -> str:
    screen = main_screen(app)
    return screen.trace.steps[screen.index].id


async def test_first_frame_shows_the_embedding_step():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Step 1/44" in text
        assert "Token embedding" in text
        assert "E = embed.tok[ids]" in text
        assert "FORWARD" in text and "BACKWARD" in text


async def test_a_projection_step_names_the_arrays_its_shared_formula_uses():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")  # embedding, positions, Q, then K
        await pilot.pause()
        text = screen_text(app)
        # the formula every projection shares, written in this one's names
        assert "K projection" in text and "K = X · W_K + b_K" in text and "Y = X · W + b" not in text


async def test_next_and_previous_keys_step_through_the_pipeline():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert current(app) == "fwd.pos"
        assert "Positional encoding" in screen_text(app) and "Step 2/44" in screen_text(app)
        await pilot.press("right", "space")
        assert current(app) == "fwd.L0.attn.k"
        await pilot.press("p")
        assert current(app) == "fwd.L0.attn.q"
        await pilot.press("left", "left")
        assert current(app) == "fwd.embed"
        await pilot.press("p")  # stays on the first step
        assert current(app) == "fwd.embed"


async def test_n_reaches_positional_softmax_loss_and_gradient_steps():
    app = make_app()
    seen: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(len(main_screen(app).trace.steps)):
            seen.append(screen_text(app))
            await pilot.press("n")
    joined = "\n".join(seen)
    for title in ("Positional encoding", "Softmax over each row", "Softmax + cross-entropy",
                  "Gradient at the logits", "Through W_Q"):
        assert title in joined


async def test_jump_keys():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        assert current(app) == "bwd.loss"
        assert "Step 22/44" in screen_text(app) and "Backward" in screen_text(app)
        await pilot.press("f")
        assert current(app) == "fwd.embed"
        await pilot.press("end")
        assert current(app) == "bwd.embed"
        await pilot.press("n")  # past the end: stays, and says so
        assert current(app) == "bwd.embed"
        await pilot.press("home")
        assert current(app) == "fwd.embed"


async def test_go_to_a_step_by_name_through_the_palette():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*"bwd.L0.attn.softmax")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert current(app) == "bwd.L0.attn.softmax"
        assert "Through the softmax" in screen_text(app)


async def test_selecting_in_the_list_opens_the_step():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down")
        assert current(app) == "fwd.L0.attn.q"


async def test_export_writes_a_new_markdown_file_each_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert {p.name for p in tmp_path.iterdir()} == {"mini-trace.md", "mini-trace-2.md"}
        assert "Token embedding" in (tmp_path / "mini-trace.md").read_text()
        assert any("mini-trace-2.md" in message for _, message in notices)


async def test_a_failed_export_shows_a_modal_and_the_app_carries_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import stepper.export.markdown as md

    def broken(trace, **options):
        raise OSError("disk full")

    monkeypatch.setattr(md, "render_markdown", broken)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "disk full" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("n")
        assert current(app) == "fwd.pos"


async def test_help_lists_every_key_and_closes():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key, what in (("n / → / space", "next step"), ("p / ←", "previous step"), ("Home", "first step"),
                          ("End", "last step"), ("b", "first backward step"), ("f", "forward start"),
                          ("g", "go to"), ("e", "export"), ("?", "help"), ("q", "quit")):
            assert key in text and what in text
        assert "keymap.yaml id" in text and "backward-start" in text  # room for the ids a keymap names
        assert "Your own keys:" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_help_at_80x24_keeps_one_line_per_key_without_the_ids():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert any("b              first backward step" in line for line in lines)
        assert not any("backward-start" in line for line in lines)


async def test_more_below_shows_while_the_step_runs_past_the_bottom():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "n")  # the Q projection: inputs, outputs and legend need more than 24 rows
        await pilot.pause()
        assert "↓ more below: PgDn" in screen_text(app)
        for _ in range(4):
            await pilot.press("pagedown")
        await pilot.pause()
        assert "↓ more below" not in screen_text(app)
        assert "b_Q [4] · parameter" in screen_text(app)  # the last input, which the learner scrolled down to


async def test_tab_reaches_the_lesson_so_a_long_one_can_scroll():
    from stepper.tui.widgets.details import Details

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")  # the positional encoding's lesson is longer than 80×24 has room for
        await pilot.pause()
        details = app.screen.query_one(Details)
        assert details.border_title == Details.MORE  # the cut-off lesson says so, and how to read on
        for _ in range(3):
            if isinstance(app.focused, Details):
                break
            await pilot.press("tab")
        assert isinstance(app.focused, Details)
        await pilot.pause()
        assert details.border_title == Details.MORE_FOCUSED
        for _ in range(10):
            await pilot.press("down")
        await pilot.pause()
        assert details.border_title is None  # read to the end


async def test_a_lesson_reached_through_go_to_says_it_is_cut_off_too():
    from stepper.tui.widgets.details import Details

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("7")  # by number, as the palette offers
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.index == 6
        # laid out under the palette, the lesson's height is only known once the palette has gone
        assert app.screen.query_one(Details).border_title == Details.MORE

async def test_quit_exits_with_code_zero():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_footer_lists_the_keys_at_80x24():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for word in ("step", "ends", "fwd/bwd", "go to", "export", "help", "quit"):
            assert word in footer


async def test_80x24_is_readable():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Token embedding" in text and "E = embed.tok[ids]" in text
        assert "embed.tok [5×4]" in text  # the table and its labels fit beside the list
        # mini's first step has a lesson of its own, which replaces the built-in meaning
        assert ("Meaning" in text or "Lesson" in text) and "Check" in text
        await pilot.press("b")
        assert "dz = (p − y) / N" in screen_text(app)


# 120×40 too, but there test_tui_layout's walk of every bundled scenario (mini and pizza_decoder
# among them) makes the same checks on every step: walking it twice would only cost time
@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
@pytest.mark.parametrize("path", [MINI, DECODER])
async def test_every_step_renders_at_every_size(path, size):
    app = make_app(path)
    async with app.run_test(size=size) as pilot:
        await walk_every_step(app, pilot)


async def test_masked_scores_show_minus_infinity():
    app = make_app(DECODER)
    async with app.run_test(size=(120, 40)) as pilot:
        main_screen(app).go_to(main_screen(app).trace.index_of("fwd.L0.attn.mask"))
        await pilot.pause()
        text = screen_text(app)
        assert "−∞" in text and "-inf" not in text
        assert "query × key" in text


async def test_verification_fills_the_badges_after_the_first_frame():
    app = make_app(verify=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "·" in screen_text(app)  # not checked yet: the first frame did not wait for torch
        await top_bar_once_verified(app, pilot)
        text = screen_text(app)
        assert "all 44 steps agree with torch" in text
        assert "✓ max |ours − torch| < 1e-12" in text  # the first step is a forward one: no autograd in it
        screen = main_screen(app)
        # the verdicts are the screen's own, arrived as messages; the trace is left as the engine made it
        assert set(screen.verdicts) == {s.id for s in screen.trace.steps}
        assert all(getattr(s, "check", None) is None for s in screen.trace.steps)


async def test_verdicts_of_a_stopped_check_are_not_shown():
    """A check the learner made obsolete (a newer edit, an undo) may still deliver: it must not count."""
    from stepper.tui.checking import ChecksEnded, StepsVerified
    from stepper.verify.verdicts import Check

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        first = screen.trace.steps[0].id
        wrong = Check("torch", 1.0, 1e-10, False, "x [0]")
        screen.post_message(StepsVerified("original", 99, {first: wrong}))
        screen.post_message(ChecksEnded("original", 99, "late"))
        await pilot.pause()
        assert screen.verdicts == {} and "✗" not in screen_text(app)


async def test_a_big_scenario_is_built_in_a_worker_behind_a_loading_screen():
    app = StepperApp(load_scenario(MINI), None, verify=False)  # no trace yet: the app builds it
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert "Token embedding" in screen_text(app)


async def test_a_failed_build_shows_a_modal_then_exits_2(monkeypatch):
    import stepper.engine

    def broken(scenario):
        raise ValueError("d_model must be divisible by n_heads")

    monkeypatch.setattr(stepper.engine, "build_trace", broken)
    app = StepperApp(load_scenario(MINI), None, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "divisible" in screen_text(app)
        await pilot.press("enter")
    assert app.return_code == 2


def test_run_app_prints_a_located_scenario_error_and_returns_2(monkeypatch, capsys):
    import stepper.engine
    from stepper.scenario import ScenarioError
    from stepper.tui.app import run_app

    def broken(scenario):
        raise ScenarioError("mini.yaml", 7, 3, "n_heads must divide d_model")

    monkeypatch.setattr(stepper.engine, "build_trace", broken)
    assert run_app(load_scenario(MINI)) == 2
    assert "mini.yaml:7:3: error: n_heads must divide d_model" in capsys.readouterr().err


def test_here_lines_pair_the_right_arrays():
    steps = {s.id: s for s in build_trace(load_scenario(MINI)).steps}
    assert symbol_roles(steps["bwd.L0.attn.q"]) == [("dY", "dQ"), ("W", "W_Q"), ("dW", "dW_Q"), ("db", "db_Q")]
    assert symbol_roles(steps["fwd.L0.res1"]) == [("F(X)", "Attn")]
    # the softmax formula is written for any S; here its input is what the mask left
    assert symbol_roles(steps["fwd.L0.attn.softmax"]) == [("S", "S_masked")]
    assert symbol_roles(steps["bwd.L0.attn.softmax"]) == [("dS", "dS_masked")]
    tied = {s.id: s for s in build_trace(load_scenario(str(SCENARIOS / "char_gpt.yaml"))).steps}
    # the tied head's own formula (logits = h · embed.tokᵀ) already uses the step's names
    assert symbol_roles(tied["fwd.head"]) == [] and symbol_roles(tied["bwd.head"]) == []


def test_the_positions_picture_calls_learned_positions_weights_not_waves():
    from stepper.engine import build_trace
    from stepper.scenario import load_scenario
    from stepper.tui.plots import legend, plot_kind

    root = Path(__file__).resolve().parent.parent / "scenarios"
    for name, waves in (("pizza_decoder", False), ("positional_sincos", True)):
        trace = build_trace(load_scenario(root / f"{name}.yaml"))
        step = trace.steps[trace.index_of("fwd.pos")]
        title, labels = legend(trace, step, plot_kind(trace, step))
        assert ("waves, one per column" in title) is waves and ("learned" in title) is not waves
        assert any("sin" in label for label, _ in labels) is waves


def test_an_input_knows_the_step_it_came_from():
    from stepper.engine import build_trace
    from stepper.scenario import load_scenario

    trace = build_trace(load_scenario(MINI))
    at = {s.id: i for i, s in enumerate(trace.steps)}

    def source(step_id: str, name: str) -> str | None:
        i = at[step_id]
        found = trace.sources_of(i, trace.steps[i].inputs[name])
        return None if not found else " + ".join(trace.steps[k].id for k in found)

    assert source("fwd.L0.ffn.up", "X") == "fwd.L0.ln1"  # not the X the Q projection read: LayerNorm 1
    assert source("fwd.L0.attn.q", "X") == "fwd.pos"
    assert source("bwd.L0.ffn.down", "X") == "fwd.L0.ffn.act"  # the backward's X is the forward's G
    assert source("bwd.L0.ffn.down", "dF") == "bwd.L0.res2"
    assert source("fwd.L0.ffn.up", "W_1") is None  # a parameter comes from no step
    assert source("bwd.L0.attn.q", "dQ") == "bwd.L0.attn.scores"  # the one head's slice is the whole
    two_heads = build_trace(load_scenario(Path(MINI).parent / "norm_post.yaml"))
    q = two_heads.index_of("bwd.L0.attn.q")
    made = [two_heads.steps[k].id for k in two_heads.sources_of(q, two_heads.steps[q].inputs["dQ"])]
    assert made == ["bwd.L0.attn.h0.scores", "bwd.L0.attn.h1.scores"]  # one head each


@pytest.mark.parametrize("max_width", [30, 37, 41, 42, 47, 60])
@pytest.mark.parametrize("n_cols", [3, 5, 6, 7, 12])
def test_a_heatmap_never_runs_past_its_room(max_width, n_cols):
    import numpy as np
    from textual.color import Color

    from stepper.tui.heatmap import Heatmap, Palette

    values = np.linspace(-2.029, 1.37, 3 * n_cols).reshape(3, n_cols)  # cells of six characters, like -2.029
    heat = Heatmap(values, rows=["<bos>", "I", "love"], cols=[f"c{j}" for j in range(n_cols)], title="logits",
                   palette=Palette(Color(0, 0, 0)), max_width=max_width, max_rows=10)
    assert heat.width <= max_width
    shown = [j for j in heat.show_cols if j is not None]
    assert shown[0] == 0 and shown[-1] == n_cols - 1  # both ends stay in view


async def top_bar_once_verified(app, pilot) -> str:
    """The top row, once torch has answered (its first import can take a while on a busy machine)."""
    await wait_for(pilot, lambda: "agree with torch" in screen_text(app), timeout=60, what="torch's verdict")
    return screen_text(app).splitlines()[0]


async def test_at_80_columns_the_verdict_in_the_top_bar_is_short_and_whole():
    app = make_app(verify=True)
    async with app.run_test(size=(80, 24)) as pilot:
        top = await top_bar_once_verified(app, pilot)
        assert top.rstrip().endswith("✓ 44/44 agree with torch")


def test_a_keymap_file_maps_ids_to_keys_and_says_what_it_cannot_use(tmp_path):
    from stepper.tui.bindings import every_binding_id
    from stepper.tui.keymap import load_keymap

    path = tmp_path / "keymap.yaml"
    assert load_keymap(every_binding_id(), path) == ({}, [])  # no file: the usual keys, nothing said
    path.write_text("next: j, right\nnxet: k\nprevious: [3]\nlast: 5\n")
    keymap, problems = load_keymap(every_binding_id(), path)
    assert keymap == {"next": "j,right", "last": "5"}
    assert any("`nxet`" in p for p in problems) and any("`previous`" in p for p in problems)
    path.write_text("next: [unclosed\n")
    assert load_keymap(every_binding_id(), path)[0] == {}


async def test_the_learners_keymap_is_used(tmp_path, monkeypatch):
    (tmp_path / "stepper").mkdir()
    (tmp_path / "stepper" / "keymap.yaml").write_text("next: j\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j", "j")
        await pilot.pause()
        assert main_screen(app).index == 2
        await pilot.press("question_mark")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert any(" j " in line and "next step" in line for line in lines)  # ? shows the new key
        assert not any("n / → / space" in line for line in lines)


async def test_beside_the_quiz_score_the_verdict_takes_its_short_words():
    scenario = load_scenario(MINI)
    app = StepperApp(scenario, build_trace(scenario), verify=True, quiz=True)
    async with app.run_test(size=(120, 40)) as pilot:
        top = await top_bar_once_verified(app, pilot)
        assert "quiz" in top and top.rstrip().endswith("✓ 44/44 agree with torch")


async def test_the_go_to_palette_does_not_turn_the_footer_into_the_quizs():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await pilot.pause(0.3)
        # the palette's own input has focus: that is not an answer being typed, so no "esc answer later"
        assert "answer later" not in screen_text(app)
        await pilot.press("escape")


@pytest.mark.parametrize("max_width", [36, 42, 60])  # three cells of 7 and four " …" need 31 beside the label
def test_a_filtered_row_keeps_the_tokens_that_survived_in_view(max_width):
    """char_gpt's top-k step: most tokens are −∞ after the filter; the … must hide those, not the
    survivors (it hid `n` of `n, r, t`)."""
    import numpy as np
    from textual.color import Color

    from stepper.tui.heatmap import Heatmap, Palette

    vocab = [*"<␣abcdefghijklmnopqrstuvwxyz"]
    z = np.full((1, len(vocab)), -np.inf)
    kept = [vocab.index(c) for c in "nrt"]
    z[0, kept] = [1.25, 2.5, 0.75]
    heat = Heatmap(z, rows=["z'"], cols=vocab, title="z'", palette=Palette(Color(0, 0, 0)), max_width=max_width,
                   max_rows=10)
    assert heat.width <= max_width
    assert set(kept) <= {j for j in heat.show_cols if j is not None}


async def test_a_lesson_that_names_no_step_is_a_notice_with_its_line(tmp_path):
    from stepper.scenario import parse_scenario

    text = Path(MINI).read_text(encoding="utf-8") + "\n  fwd.*.maks: never shown\n"  # mini ends in its lessons
    scenario = parse_scenario(text, "typo.yaml")
    trace = build_trace(scenario)
    (warning,) = trace.warnings
    app = StepperApp(scenario, trace, verify=False)
    notices = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        notes = [(title, message) for title, message in notices if title.startswith("scenario warning")]
        assert notes == [(f"scenario warning, line {warning.line}", warning.message)]
        assert "did you mean `fwd.*.mask`?" in warning.message and str(warning).startswith("typo.yaml:")


@pytest.mark.parametrize("value", [",,,", "j k", "ctrl+", "nosuchkey", "j,,k", " , "])
def test_a_keymap_value_that_names_no_key_is_said_and_the_usual_keys_stay(tmp_path, value):
    from stepper.tui.bindings import every_binding_id
    from stepper.tui.keymap import load_keymap

    path = tmp_path / "keymap.yaml"
    path.write_text(f'next: "{value}"\nprevious: "k, left, ctrl+b, question_mark, ?, f5"\n')
    keymap, problems = load_keymap(every_binding_id(), path)
    assert "next" not in keymap and keymap["previous"] == "k,left,ctrl+b,question_mark,?,f5"
    assert len(problems) == 1 and "`next`" in problems[0] and "the usual keys" in problems[0]


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "dev-null", "directory", "huge", "binary", "escapes"])
def test_a_keymap_file_that_is_no_keymap_is_said_at_once(tmp_path, make):
    import os

    from stepper.tui.bindings import every_binding_id
    from stepper.tui.keymap import load_keymap

    path = tmp_path / "keymap.yaml"
    if make == "fifo":
        os.mkfifo(path)
    elif make.startswith("dev-"):
        os.symlink(f"/dev/{make[4:]}", path)
    elif make == "directory":
        path.mkdir()
    elif make == "huge":
        path.write_bytes(b"# " + b"x" * (5 * 2**20))
    elif make == "binary":
        path.write_bytes(b"\xff\xfe\x00\x01next: j")
    else:
        path.write_text('"\\e]0;x\\a": j\nnext: "\\e[2J"\n')
    keymap, problems = load_keymap(every_binding_id(), path)
    assert keymap == {} and problems
    assert all("\x1b" not in p and "\x07" not in p for p in problems)


async def test_in_what_if_and_quiz_mode_the_verdict_in_the_top_bar_is_never_cut():
    """The edit's label grows with each edit; the verdict beside it stays whole at 80 columns and up."""
    scenario = load_scenario(MINI)
    app = StepperApp(scenario, build_trace(scenario), verify=True, quiz=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await top_bar_once_verified(app, pilot)
        main_screen(app).go_to(main_screen(app).trace.index_of("fwd.L0.ffn.down"))  # its weight W_2 is edited
        for value in ("-2", "3", "-1.5"):  # three edits: the label names all three
            await pilot.press("escape", "w")
            await pilot.pause()
            await pilot.click("#edit-value")
            await pilot.press(*value, "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert main_screen(app).role == "edited"
        for width in (80, 100, 120, 170):
            await pilot.resize_terminal(width, 30)
            top = await top_bar_once_verified(app, pilot)
            assert top.rstrip().endswith("✓ 44/44 agree with torch"), (width, top)
            assert "what-if" in top and top.startswith(" stepper · mini")
