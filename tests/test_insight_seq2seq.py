"""stepper.insight on an encoder–decoder: every head of the encoder's self-attention, the decoder's
self-attention and its cross-attention, the FFN units and the layers' work of both stacks, checked
against numbers read from the JSON trace of the trained model, one example at a time, by step ids
spelt out here; and the export's headings and numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from stepper.engine import build_trace
from stepper.export.json_trace import render_json
from stepper.export.markdown import render_markdown
from stepper.export.yaml_scenario import trained_scenario as trained_doc
from stepper.insight.heads import head_summaries
from stepper.insight.layers import layer_work
from stepper.insight.types import PATTERN_THRESHOLD
from stepper.insight.units import top_units
from stepper.present.numbers import table_number
from stepper.scenario import load_scenario

WORD_ORDER = "scenarios/word_order_train.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The trained word-order model, and the JSON steps of each training example run with its weights."""
    sc = load_scenario(WORD_ORDER)
    trace = build_trace(sc)
    folder = tmp_path_factory.mktemp("word_order")
    jsons = []
    for k, ex in enumerate(sc.data.examples):
        doc = trained_doc(sc, trace)
        doc["input"]["source"], doc["input"]["target"] = list(ex.source), list(ex.tokens)
        path = folder / f"example{k}.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        jsons.append({s["id"]: s for s in json.loads(render_json(build_trace(load_scenario(str(path)))))["steps"]})
    return sc, trace, jsons


def _maps(jsons, step):
    return [(np.array(j[step]["outputs"]["A"]), j[step]["labels"]["A"]["rows"], j[step]["labels"]["A"]["cols"])
            for j in jsons]


def _shares_by_hand(maps, cross: bool) -> tuple[dict[str, float], dict[str, float], int]:
    """The documented definitions with plain loops: position shares and each key token's share."""
    names = ["same", "first", "pad"] if cross else ["previous", "same", "first", "pad", "later"]
    total, tokens, rows = dict.fromkeys(names, 0.0), {}, 0
    for a, row_toks, key_toks in maps:
        for q, tok in enumerate(row_toks):
            if tok == "<pad>":
                continue
            rows += 1
            total["same"] += a[q][q] if q < len(key_toks) else 0.0
            total["first"] += a[q][0]
            total["pad"] += sum(a[q][k] for k, t in enumerate(key_toks) if t == "<pad>")
            if not cross:
                total["previous"] += a[q][q - 1] if q else 0.0
                total["later"] += sum(a[q][k] for k in range(q + 1, len(key_toks)))
            for k, t in enumerate(key_toks):
                tokens[t] = tokens.get(t, 0.0) + a[q][k]
    return {k: v / rows for k, v in total.items()}, {k: v / rows for k, v in tokens.items()}, rows


def test_every_attention_of_both_stacks_is_summarised_from_its_own_softmax_steps(trained):
    sc, trace, jsons = trained
    summaries = head_summaries(sc, trace.trained)
    assert [s.attention for s in summaries] == ["encoder", "decoder self", "cross"]
    assert [s.stack for s in summaries] == ["encoder", "decoder", "decoder"]
    for s, step in zip(summaries, ["fwd.enc.L0.attn.softmax", "fwd.dec.L0.self.softmax", "fwd.dec.L0.cross.softmax"],
                       strict=True):
        maps = _maps(jsons, step)
        shares, tokens, rows = _shares_by_hand(maps, cross=s.attention == "cross")
        assert s.rows == rows and list(s.shares) == list(shares), step
        assert s.shares == pytest.approx(shares, abs=1e-12), step
        assert s.to_token == pytest.approx(tokens, abs=1e-12), step
        for (a, row_toks, key_toks), got, labels, keys in zip(maps, s.maps, s.examples, s.keys, strict=True):
            np.testing.assert_allclose(got, a, atol=1e-12)
            assert (labels, keys) == (row_toks, key_toks)
        assert s.top_share == pytest.approx(max({**s.shares, **s.to_token}.values()), abs=1e-9)
        assert (s.pattern is not None) == (s.top_share >= PATTERN_THRESHOLD)
        # by position: every example has the same lengths here, so it is the plain mean of the maps
        np.testing.assert_allclose(s.by_position, np.mean([a for a, _, _ in maps], axis=0), atol=1e-12)
    cross = summaries[2]
    # the cross-attention's keys are the source words; its rows the target tokens the decoder reads
    assert cross.keys[0] == ["green", "car"] and cross.examples[0] == ["<bos>", "coche", "verde"]
    assert set(cross.to_token) <= {t for ex in sc.data.examples for t in ex.source}
    # the crossed alignment the scenario states: the <bos> row (which predicts the noun) on source position 1
    # (the noun in every example), the noun's row (which predicts the adjective) on position 0
    assert cross.by_position[0, 1] > 0.99 and cross.by_position[1, 0] > 0.99


def test_each_stacks_units_are_the_json_activations_of_its_own_ffn(trained):
    sc, trace, jsons = trained
    units = top_units(sc, trace.trained, k=2)
    assert [(u.stack, u.layer) for u in units] == [("encoder", 0)] * 2 + [("decoder", 0)] * 2
    for stack, step in (("encoder", "fwd.enc.L0.ffn.act"), ("decoder", "fwd.dec.L0.ffn.act")):
        acts = np.concatenate([np.array(j[step]["outputs"]["G"]) for j in jsons])
        rows = [t for j in jsons for t in j[step]["labels"]["G"]["rows"]]
        mine = [u for u in units if u.stack == stack]
        assert [u.unit for u in mine] == list(np.argsort(-acts.max(axis=0), kind="stable")[:2])
        for u in mine:
            assert u.peak == pytest.approx(acts[:, u.unit].max()) and u.mean == pytest.approx(acts[:, u.unit].mean())
            assert rows[int(np.argmax(acts[:, u.unit]))] == u.token
            read = sc.data.examples[u.example].source if stack == "encoder" else sc.data.examples[u.example].tokens
            assert read[u.position] == u.token


def _variant(tmp_path, **model):
    """word_order_train's model changed by `model`, with fresh weights, on its traced pair, untrained."""
    doc = yaml.safe_load(open(WORD_ORDER, encoding="utf-8"))
    doc["model"].update(model)
    for key in ("data", "optim", "lessons"):
        doc.pop(key, None)
    doc["input"] = {"source_text": "green car", "target_text": "<bos> coche verde <eos>",
                    "vocab": load_scenario(WORD_ORDER).vocab}
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_scenario(str(path))


def _inputs(steps: dict[str, dict], step: str) -> dict[str, np.ndarray]:
    """A JSON step's inputs, each by the value of the forward step output its key names."""
    made = {s["keys"][name]: np.array(v) for s in steps.values() if s["phase"] == "forward"
            for name, v in s["outputs"].items()}
    return {name: made[ref["key"]] for name, ref in steps[step]["inputs"].items()}


@pytest.mark.parametrize("norm", ["pre", "post", "none"])
def test_layer_work_of_both_stacks_is_the_documented_ratio_of_the_json_steps(norm, tmp_path):
    sc = _variant(tmp_path, norm=norm, n_dec_layers=2)
    trace = build_trace(sc)
    steps = {s["id"]: s for s in json.loads(render_json(trace))["steps"]}
    work = layer_work(trace)
    assert [(w.stack, w.layer) for w in work] == [("encoder", 0), ("decoder", 0), ("decoder", 1)]
    for w in work:
        at, last = (f"fwd.enc.L{w.layer}", 2) if w.stack == "encoder" else (f"fwd.dec.L{w.layer}", 3)
        x = _inputs(steps, f"{at}.res1")["X"]
        y = np.array(steps[f"{at}.ln{last}"]["outputs"]["y"] if norm == "post" else steps[f"{at}.res{last}"]["outputs"]["R"])
        np.testing.assert_allclose(w.ratio, np.linalg.norm(y - x, axis=1) / np.linalg.norm(x, axis=1), rtol=1e-12)
        sub = {"attn": (1, "Attn"), "ffn": (last, "F")} | ({"cross": (2, "Cross")} if last == 3 else {})
        for field, (n, added) in sub.items():
            res = _inputs(steps, f"{at}.res{n}")
            expected = np.linalg.norm(res[added], axis=1) / np.linalg.norm(res["X"], axis=1)
            np.testing.assert_allclose(getattr(w, field), expected, rtol=1e-12)
        assert w.cross.size == (len(w.tokens) if w.stack == "decoder" else 0)
    assert work[0].tokens == list(sc.source_tokens) and work[1].tokens == list(sc.tokens[:-1])


def test_several_heads_and_decoder_layers_each_get_a_summary_in_reading_order(tmp_path):
    sc = _variant(tmp_path, n_heads=2, n_dec_layers=2)
    summaries = head_summaries(sc, sc.params)
    assert [(s.attention, s.layer, s.head) for s in summaries] == [
        ("encoder", 0, 0), ("encoder", 0, 1),
        ("decoder self", 0, 0), ("decoder self", 0, 1), ("decoder self", 1, 0), ("decoder self", 1, 1),
        ("cross", 0, 0), ("cross", 0, 1), ("cross", 1, 0), ("cross", 1, 1)]
    assert all(list(s.shares) == ["same", "first", "pad"] for s in summaries if s.attention == "cross")


def test_the_export_shows_each_attention_and_stack_under_its_heading_with_its_numbers(trained):
    sc, trace, _ = trained
    doc = render_markdown(trace).split("## What training did", 1)[1].split("## Summary", 1)[0]
    headings = ["#### Encoder self-attention", "#### Decoder self-attention", "#### Cross-attention",
                "### The FFN units that fire most (after training)", "#### Encoder", "#### Decoder"]
    assert [doc.index(h + "\n") for h in headings] == sorted(doc.index(h + "\n") for h in headings)
    cross = head_summaries(sc, trace.trained)[2]
    row0, row1 = (table_number(cross.by_position[q, k], 4) for q, k in ((0, 1), (1, 0)))
    assert f"query row 0 puts {row0} on source position 1; query row 1 puts {row1} on source position 0" in doc
    assert "| dec L0 cross h0 | " in doc and "| same | first | pad | most weight where seen |" in doc
    assert "| layer | token | whole layer | self-attention | cross-attention | FFN |" in doc
    assert "Unit " in doc and " of encoder layer 0 fires most" in doc and " of decoder layer 0 fires most" in doc
