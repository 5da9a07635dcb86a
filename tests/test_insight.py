"""stepper.insight: what training did, measured — checked against numbers read independently from the
JSON trace of the trained model, and the export's "What training did" section."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from stepper.engine import build_trace
from stepper.export.json_trace import render_json
from stepper.export.markdown import render_markdown
from stepper.export.yaml_scenario import trained_scenario as trained_doc
from stepper.insight.before_after import changed_entries, trained_scenario
from stepper.insight.heads import head_summaries
from stepper.insight.layers import layer_work
from stepper.insight.types import PATTERN_THRESHOLD
from stepper.insight.units import top_units
from stepper.scenario import load_scenario
from stepper.scenario.types import Example

SENTIMENT = "scenarios/tiny_sentiment_train.yaml"
LM = "scenarios/tiny_lm_train.yaml"


@pytest.fixture(scope="module")
def trained():
    out = {}
    for path in (SENTIMENT, LM):
        sc = load_scenario(path)
        out[path] = (sc, build_trace(sc))
    return out


def _json_steps(sc, trace, example, tmp_path) -> dict[str, dict]:
    """The JSON trace of the trained model (`export --format yaml`) with `example` as its traced example."""
    doc = trained_doc(sc, trace)
    doc["input"]["tokens"] = list(example.tokens)
    if example.label is not None:
        doc["task"]["label"] = example.label
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return {s["id"]: s for s in json.loads(render_json(build_trace(load_scenario(str(path)))))["steps"]}


def _shares_by_hand(maps: list[tuple[np.ndarray, list[str]]]) -> dict[str, float]:
    """The documented definitions, written out with plain loops over every real query row."""
    total, rows = dict.fromkeys(["previous", "same", "first", "pad", "later"], 0.0), 0
    for a, toks in maps:
        for q, tok in enumerate(toks):
            if tok == "<pad>":
                continue
            rows += 1
            total["previous"] += a[q][q - 1] if q else 0.0
            total["same"] += a[q][q]
            total["first"] += a[q][0]
            total["pad"] += sum(a[q][k] for k, t in enumerate(toks) if t == "<pad>")
            total["later"] += sum(a[q][k] for k in range(q + 1, len(toks)))
    return {k: v / rows for k, v in total.items()}


@pytest.mark.parametrize("path", [SENTIMENT, LM])
def test_head_shares_equal_those_computed_from_the_json_trace_of_the_trained_model(trained, path, tmp_path):
    sc, trace = trained[path]
    examples = list(sc.data.examples[:3])
    summaries = head_summaries(sc, trace.trained, examples)
    jsons = [_json_steps(sc, trace, ex, tmp_path) for ex in examples]
    assert len(summaries) == sc.model.n_layers * sc.model.n_heads
    for s in summaries:
        step = f"fwd.L{s.layer}.attn.h{s.head}.softmax"
        maps = [(np.array(j[step]["outputs"]["A"]), j[step]["labels"]["A"]["rows"]) for j in jsons]
        expected = _shares_by_hand(maps)
        for name, value in expected.items():
            assert s.shares[name] == pytest.approx(value, abs=1e-12), (step, name)
        assert s.rows == sum(len(toks) for _, toks in maps)
        for (a, toks), got, labels in zip(maps, s.maps, s.examples, strict=True):
            np.testing.assert_allclose(got, a, atol=1e-12)
            assert labels == toks
        # a token's share over all rows, and the pattern from the largest share and the threshold
        word = s.examples[0][-1]
        by_hand = sum(a[q][k] for a, toks in maps for q in range(len(toks)) for k, t in enumerate(toks) if t == word)
        assert s.to_token[word] == pytest.approx(by_hand / s.rows, abs=1e-12)
        everything = {**s.shares, **s.to_token}
        assert s.top_share == pytest.approx(max(everything.values()), abs=1e-9)
        assert (s.pattern is not None) == (s.top_share >= PATTERN_THRESHOLD)


def test_the_after_trace_equals_the_command_line_json_of_the_trained_yaml(trained, tmp_path):
    sc, trace = trained[SENTIMENT]
    model = tmp_path / "trained.yaml"
    subprocess.run([sys.executable, "-m", "stepper", "export", SENTIMENT, "--format", "yaml", "-o", str(model)],
                   check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "stepper", "export", str(model), "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    after = build_trace(trained_scenario(sc, trace))
    assert after.loss == pytest.approx(json.loads(out)["loss"], abs=1e-12)
    for step in after.steps:
        if step.phase == "forward":
            for name, t in step.outputs.items():
                np.testing.assert_allclose(t.value, np.array(steps[step.id]["outputs"][name], dtype=float), atol=1e-12)


def _uniform(sc):
    """The sentiment model with W_Q = 0 and b_Q = 0: every score 0, so every row attends uniformly."""
    params = dict(sc.params)
    params["layers.0.attn.W_Q"] = np.zeros_like(params["layers.0.attn.W_Q"])
    params["layers.0.attn.b_Q"] = np.zeros_like(params["layers.0.attn.b_Q"])
    return params


def test_a_share_exactly_at_the_threshold_names_the_pattern_and_ties_go_to_the_first_share():
    sc = load_scenario(SENTIMENT)
    # two tokens, uniform rows: same = first = 0.5 exactly (row 0's own key is also the first)
    [s, _] = head_summaries(sc, _uniform(sc), [Example(tokens=("great", "movie"), label="positive")])
    assert s.shares["same"] == s.shares["first"] == 0.5 and s.shares["previous"] == s.shares["later"] == 0.25
    assert (s.pattern, s.top, s.top_is_token) == ("same", "same", False)
    # three distinct tokens: same, first, later and every token are all 1/3, below the threshold
    [s, _] = head_summaries(sc, _uniform(sc), [Example(tokens=("great", "movie", "film"), label="positive")])
    assert s.pattern is None and s.top == "same" and s.top_share == pytest.approx(1 / 3)
    assert s.to_token == pytest.approx({"film": 1 / 3, "great": 1 / 3, "movie": 1 / 3})
    assert list(s.to_token) == ["film", "great", "movie"]  # vocabulary order


def test_padding_rows_are_not_counted_and_padding_changes_no_share():
    sc = load_scenario(SENTIMENT)
    trace = build_trace(sc)
    plain, padded = (head_summaries(sc, trace.trained, [Example(tokens=toks, label="negative")])
                     for toks in [("boring", "film"), ("boring", "film", "<pad>", "<pad>")])
    for a, b in zip(plain, padded, strict=True):
        assert b.rows == a.rows == 2
        assert b.shares == pytest.approx(a.shares, abs=1e-12) and b.shares["pad"] == 0
        assert "<pad>" not in b.to_token and b.maps[0].shape == (4, 4)


def test_a_token_seen_only_in_some_rows_is_judged_where_it_is_seen():
    sc = load_scenario(LM)
    [s, *_] = head_summaries(sc, sc.params, [Example(tokens=tuple("a cat"))])
    a = s.maps[0]  # inputs "a ca": the causal mask lets only rows 2 and 3 see "c"
    assert s.to_token_when_seen["c"] == pytest.approx((a[2, 2] + a[3, 2]) / 2)
    assert s.to_token["c"] == pytest.approx((a[2, 2] + a[3, 2]) / 4)


def test_top_units_equal_the_json_activations_and_ties_go_to_the_lower_unit(trained, tmp_path):
    sc, trace = trained[SENTIMENT]
    examples = list(sc.data.examples[:3])
    acts = np.concatenate([np.array(_json_steps(sc, trace, ex, tmp_path)["fwd.L0.ffn.act"]["outputs"]["G"])
                           for ex in examples])
    units = top_units(sc, trace.trained, examples, k=3)
    assert [u.unit for u in units] == list(np.argsort(-acts.max(axis=0), kind="stable")[:3])
    for u in units:
        assert u.peak == pytest.approx(acts[:, u.unit].max()) and u.mean == pytest.approx(acts[:, u.unit].mean())
        assert examples[u.example].tokens[u.position] == u.token
    params = dict(trace.trained)
    w1, b1 = params["layers.0.ffn.W_1"].copy(), params["layers.0.ffn.b_1"].copy()
    w1[:, 9], b1[9] = 10 * w1[:, 4], 10 * b1[4]  # units 4 and 9 the same, and far above the others
    w1[:, 4], b1[4] = w1[:, 9], b1[9]
    params.update({"layers.0.ffn.W_1": w1, "layers.0.ffn.b_1": b1})
    assert [u.unit for u in top_units(sc, params, examples, k=2)] == [4, 9]


@pytest.mark.parametrize("path", ["scenarios/norm_pre.yaml", "scenarios/norm_post.yaml"])
def test_layer_work_is_the_documented_ratio_read_from_the_json_trace(path):
    trace = build_trace(load_scenario(path))
    steps = {s["id"]: s for s in json.loads(render_json(trace))["steps"]}
    post = trace.config["model"]["norm"] == "post"
    for work in layer_work(trace):
        i = work.layer
        x = np.array(steps["fwd.pos"]["outputs"]["X"]) if i == 0 else np.array(
            steps[f"fwd.L{i - 1}.ln2"]["outputs"]["y"] if post else steps[f"fwd.L{i - 1}.res2"]["outputs"]["R"])
        y = np.array(steps[f"fwd.L{i}.ln2"]["outputs"]["y"] if post else steps[f"fwd.L{i}.res2"]["outputs"]["R"])
        np.testing.assert_allclose(work.ratio, np.linalg.norm(y - x, axis=1) / np.linalg.norm(x, axis=1), rtol=1e-12)
        attn = np.array(steps[f"fwd.L{i}.attn.out"]["outputs"]["O"])
        np.testing.assert_allclose(work.attn, np.linalg.norm(attn, axis=1) / np.linalg.norm(x, axis=1), rtol=1e-12)


def test_changed_entries_are_exactly_zero_where_equal_masked_entries_included(trained):
    sc, trace = trained[LM]
    after = build_trace(trained_scenario(sc, trace))
    i = trace.index_of("fwd.L0.attn.h0.mask")
    diff = changed_entries(trace.steps[i], after.steps[i])["S_masked"]
    masked = np.isneginf(trace.steps[i].outputs["S_masked"].value)
    assert masked.any() and np.all(diff[masked] == 0) and np.all(np.isfinite(diff))
    assert np.all(diff[~masked] != 0)
    assert changed_entries(trace.steps[i], trace.steps[i])["S_masked"].tolist() == np.zeros_like(diff).tolist()
    with pytest.raises(ValueError, match="does not train"):
        trained_scenario(load_scenario("scenarios/mini.yaml"), build_trace(load_scenario("scenarios/mini.yaml")))


def test_the_export_says_what_training_did_only_for_a_scenario_that_trains(trained):
    sc, trace = trained[SENTIMENT]
    doc = render_markdown(trace)
    assert "## What training did" in doc and "[What training did](#what-training-did)" in doc
    assert doc.index("## Training") < doc.index("## What training did") < doc.index("## Summary")
    [h0, h1] = head_summaries(sc, trace.trained)
    assert f"{h0.top_share:.4g} on later tokens, is below 0.5" in doc  # the claim quotes its own number
    assert "| loss | 0.2564 | 0.1418 | -0.1146 |" in doc
    assert "## What training did" in render_markdown(build_trace(load_scenario("scenarios/xor_gelu.yaml")))
    plain = render_markdown(build_trace(load_scenario("scenarios/mini.yaml")))
    assert "What training did" not in plain
