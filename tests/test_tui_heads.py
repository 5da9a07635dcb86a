"""The heads view (H) and the training screen's per-layer gradient norms, read off the screen and held to
the JSON trace (`stepper export --format json`), as a learner would check them."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.export.json_trace import render_json
from stepper.insight.heads import head_summaries
from stepper.insight.passes import default_examples
from stepper.present.numbers import table_number
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.widgets.head_summary import HeadSummaryPanel
from stepper.tui.widgets.plot_pane import MIN_PLOT_ROWS
from tests.tui_helpers import main_screen, screen_lines, screen_text, wait_for

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def sentiment():
    scenario = load_scenario(SCENARIOS / "tiny_sentiment_train.yaml")
    trace = build_trace(scenario)
    return scenario, trace, json.loads(render_json(trace))


def heads_from_json(scenario, exported: dict):
    """insight's own function run on the JSON's trained weights, over the view's examples."""
    trained = {name: np.array(v, dtype=np.float64) for name, v in exported["trained_params"].items()}
    return head_summaries(dataclasses.replace(scenario, params=trained), trained, default_examples(scenario))


async def test_the_heads_view_shows_the_trained_maps_and_shares_of_the_json_weights():
    scenario, trace, exported = sentiment()
    expected = heads_from_json(scenario, exported)
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: "FFN units of layer 0" in screen_text(app), what="the heads view")
        for head, example in ((0, 0), (1, 1), (1, 5), (0, 11)):
            screen = app.screen
            screen.head, screen.example = head, example
            screen.action_move_head(0)
            await pilot.pause()
            text = screen_text(app)
            s = expected[head]
            tokens = s.examples[example]
            assert f"L0 h{head} · example {example} (0–11" in text and " ".join(tokens) in text
            for q, tok in enumerate(tokens):  # each query row of the map, as the heatmap prints it (3 decimals)
                row = re.search(rf"▏\s*{re.escape(tok)}((?: +\d\.\d+)+)", text.split(" ".join(tokens), 1)[1])
                assert [float(x) for x in row.group(1).split()] == [round(x, 3) for x in s.maps[example][q]]
            for name, words in (("previous", "the previous token"), ("same", "its own token"),
                                ("first", "the first token"), ("later", "later tokens")):
                assert re.search(rf"{words} +\S+ → {re.escape(table_number(s.shares[name], 4))}\b", text)
            assert f"over {s.rows} real query rows of 12 examples" in text


async def test_the_heads_view_paints_computing_first_and_keeps_its_numbers(monkeypatch):
    from stepper.insight import trained

    scenario, trace, _ = sentiment()
    release, calls = threading.Event(), []
    real = trained.trained_insight

    def slow(*args):
        calls.append(1)
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(trained, "trained_insight", slow)
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = main_screen(app)
        await pilot.press("H")
        await wait_for(pilot, lambda: "computing the heads" in screen_text(app), what="the waiting line")
        release.set()
        await wait_for(pilot, lambda: "FFN units" in screen_text(app), what="the heads")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is main and main.trained_insight is not None
        await pilot.press("T")
        await wait_for(pilot, lambda: "update 1 of 60" in screen_text(app))
        await pilot.press("H")  # from the training screen, the numbers kept: no second computation
        await wait_for(pilot, lambda: "FFN units" in screen_text(app))
        assert len(calls) == 1


async def open_training_screen(app, pilot) -> None:
    """T, once training's worker has the updates, and the screen is on its first update."""
    screen = main_screen(app)
    await wait_for(pilot, lambda: screen.update_views is not None)
    await pilot.press("T")
    await wait_for(pilot, lambda: "update 1 of 60" in screen_text(app))


async def test_the_training_screen_shows_each_layers_gradient_norm_of_the_json_at_the_cursor():
    scenario, trace, exported = sentiment()
    per_layer = exported["training"]["layer_grad_norm"]
    assert list(per_layer) == ["embed", "layers.0", "head"]
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_training_screen(app, pilot)
        for key, t in (("right", 1), ("end", 59), ("pageup", 54)):
            await pilot.press(key)
            text = screen_text(app)
            assert f"update {t + 1} of 60" in text
            for group, label in (("embed", "embed"), ("layers.0", "L0"), ("head", "head")):
                assert re.search(rf"▏ +{label} +{per_layer[group][t]:.4g}\b", text), (t, group)
        # all four pictures at 120×40, each with room to read
        plots = list(app.screen.query(".training-plot"))
        assert len(plots) == 4 and all(p.display and p.size.height >= MIN_PLOT_ROWS for p in plots)
        assert "gradient norm per layer, log scale: ■ embed ■ L0 ■ head" in screen_text(app)


async def test_at_80x24_the_training_screen_shows_one_readable_picture_at_a_time():
    scenario, trace, _ = sentiment()
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_training_screen(app, pilot)
        await pilot.pause()
        seen = []
        for _ in range(4):
            shown = [p for p in app.screen.query(".training-plot") if p.parent.display]
            assert len(shown) == 1 and shown[0].size.height >= MIN_PLOT_ROWS, [p.size for p in shown]
            seen.append(shown[0].id)
            await pilot.press("v")
            await pilot.pause()
        assert seen == ["plot-loss", "plot-lr", "plot-grad", "plot-layers"]


async def test_an_attention_only_model_shows_its_heads_and_no_empty_ffn_heading():
    scenario = load_scenario(SCENARIOS / "xor_attention_only.yaml")
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: "L0 h0 · example 0" in screen_text(app), what="the heads view")
        text = screen_text(app)
        assert "shares of its weight" in text and "FFN units" not in text


async def test_a_seq2seq_shows_each_attention_under_its_heading_with_the_json_numbers():
    scenario = load_scenario(SCENARIOS / "word_order_train.yaml")
    trace = build_trace(scenario)
    expected = heads_from_json(scenario, json.loads(render_json(trace)))
    app = StepperApp(scenario, trace, verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: "FFN units of encoder layer 0" in screen_text(app), what="the heads view")
        text = screen_text(app)
        for heading in ("Encoder self-attention", "Decoder self-attention", "Cross-attention"):
            assert heading in text
        await pilot.press("down", "down")  # the third head: the decoder's cross-attention
        await wait_for(pilot, lambda: "FFN units of decoder layer 0" in screen_text(app), what="the cross head")
        text = screen_text(app)
        cross = expected[2]
        assert cross.attention == "cross"
        assert "dec L0 cross h0 · example 0 (0–6, ←/→): <bos> coche verde (keys: green car)" in text
        for q, tok in enumerate(cross.examples[0]):  # rows: the target tokens; columns: the source words
            row = re.search(rf"▏\s*{re.escape(tok)}((?: +\d\.\d+)+)", text.split("(keys: green car)", 1)[1])
            assert [float(x) for x in row.group(1).split()] == [round(x, 3) for x in cross.maps[0][q]]
        assert re.search(rf"the source token at its own index +\S+ → {re.escape(table_number(cross.shares['same'], 4))}",
                         text)
        assert re.search(rf"the first source token +\S+ → {re.escape(table_number(cross.shares['first'], 4))}", text)
        assert "the previous token" not in text and "later tokens" not in text
        panel = app.screen.query_one(HeadSummaryPanel)  # its lines alone: the sentence wraps inside it
        flat = " ".join(" ".join(screen_lines(app, panel.content_region)).split())
        row0, row1 = (table_number(cross.by_position[q, k], 4) for q, k in ((0, 1), (1, 0)))
        assert f"query row 0 puts {row0} on source position 1; query row 1 puts {row1} on source position 0" in flat


@pytest.mark.parametrize("name", ["word_order_train", "warmup_postnorm_train"])
async def test_at_80x24_the_head_under_the_cursor_stays_in_the_short_list(name):
    """The narrow layout gives the list six rows: moving down the heads scrolls it, so the marked head
    (a seq2seq's cross-attention under its third heading, a deep model's last layers) stays on screen."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    model = scenario.model
    if model.kind == "seq2seq":  # encoder self-attention, decoder self-attention, cross-attention
        labels = [f"L{i} h{h}" for _ in range(3) for i in range(model.n_layers) for h in range(model.n_heads)]
    else:
        labels = [f"L{i} h{h}" for i in range(model.n_layers) for h in range(model.n_heads)]
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: "▸ L0 h0" in screen_text(app), what="the heads view")
        for k in range(1, len(labels)):
            await pilot.press("down")
            marked = [line for line in screen_lines(app) if "▸ L" in line]
            assert len(marked) == 1 and f"▸ {labels[k]} " in marked[0], (k, screen_text(app))
