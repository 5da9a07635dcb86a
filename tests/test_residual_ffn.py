"""`model.residual` and `model.ffn` (issue #21, switch B): blocks without a skip path, or without an FFN.

Every place a transformer runs: the recorded pass (every step and gradient against the torch reference),
batched training (every update verified), KV-cache generation, the parameter list, the cost model
(against the arrays of a real run), and the located errors for a bad use.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml
from cost_helpers import assert_costs_match_the_run

from stepper import cli
from stepper.engine import build_trace
from stepper.scenario import parse_scenario
from stepper.scenario.budget import budget
from stepper.verify.compare import check_totals, verify_trace
from stepper.verify.reference import torch_reference
from stepper.verify.scenario_check import verify_scenario

# (residual, ffn): every way a block can lose a skip path or its FFN
VARIANTS = [(False, True), (["attention"], True), (["ffn"], True), (True, False), (False, False),
            (["attention"], False)]
NORMS = ["post", "pre", "none"]


def doc(kind="encoder", norm="post", residual=True, ffn=True, **extra) -> dict:
    model = {"kind": kind, "d_model": 4, "n_heads": 2, "n_layers": 2, "d_ff": 6, "norm": norm,
             "residual": residual, "ffn": ffn, **extra}
    task = {"kind": "next_token"} if kind == "decoder" else {"kind": "classify", "classes": ["x", "y"], "label": "y"}
    return {"name": "abl", "model": model, "input": {"tokens": ["a", "b", "<pad>", "c"]}, "task": task,
            "weights": {"seed": 5, "init": {"std": 0.6, "bias_std": 0.2}}}


def scenario(**kw):
    return parse_scenario(yaml.safe_dump(doc(**kw), sort_keys=False))


def kept(residual, ffn) -> set[str]:
    """The sublayers that keep their skip path."""
    subs = {"attention", "ffn"} if residual is True else set(residual or [])
    return subs if ffn else subs - {"ffn"}


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("residual,ffn", VARIANTS)
def test_every_step_and_gradient_agrees_with_torch(kind, norm, residual, ffn):
    sc = scenario(kind=kind, norm=norm, residual=residual, ffn=ffn)
    trace = build_trace(sc)
    ref = torch_reference(sc)
    checks = verify_trace(trace, ref)
    assert not [(i, c.worst, c.max_abs_err) for i, c in checks.items() if not c.ok]
    assert all(c.compared for i, c in checks.items() if i.startswith(("fwd.L", "bwd.L")))
    assert check_totals(trace, ref).ok
    # a residual step where, and only where, a skip path is kept; none of an FFN that is not there
    adds = {s.id for s in trace.steps if s.stage == "residual"}
    want = {f"{p}.L{i}.res{n}" for p in ("fwd", "bwd") for i in range(2)
            for n, sub in ((1, "attention"), (2, "ffn")) if sub in kept(residual, ffn)}
    assert adds == want
    assert any(".ffn." in s.id for s in trace.steps) == ffn


@pytest.mark.parametrize("norm", NORMS)
def test_without_an_ffn_there_are_no_ffn_parameters_and_no_ln2(norm):
    names = set(scenario(norm=norm, ffn=False).params)
    assert not [n for n in names if ".ffn." in n or ".ln2." in n]
    assert ("layers.0.ln1.gamma" in names) == (norm != "none")
    assert "layers.1.attn.W_Q" in names


def test_a_replaced_stream_is_said_in_the_step_list():
    trace = build_trace(scenario(residual=["ffn"], norm="none"))
    out = next(s for s in trace.steps if s.id == "fwd.L0.attn.out")
    assert "replaces the stream" in out.title and "no residual" in out.title
    kept_one = next(s for s in trace.steps if s.id == "fwd.L0.ffn.down")
    assert "replaces" not in kept_one.title


def test_the_defaults_change_nothing():
    plain = doc()
    del plain["model"]["residual"], plain["model"]["ffn"]
    a = build_trace(parse_scenario(yaml.safe_dump(plain)))
    b = build_trace(scenario(residual=True, ffn=True))
    assert [(s.id, s.title) for s in a.steps] == [(s.id, s.title) for s in b.steps]
    for x, y in zip(a.steps, b.steps, strict=True):
        for name, t in x.outputs.items():
            assert np.array_equal(t.value, y.outputs[name].value)


TRAIN = {"optim": {"kind": "adam", "lr": 0.05, "steps": 4},
         "data": {"examples": [{"text": "a b c"}, {"text": "b c"}, {"text": "c a b a"}], "batch_size": 2,
                  "validation": [{"text": "a c"}]}}
TRAIN_CLASSIFY = {"optim": {"kind": "sgd", "lr": 0.3, "steps": 3},
                  "data": {"examples": [{"text": "a b", "label": "x"}, {"text": "c", "label": "y"},
                                        {"text": "b c a", "label": "y"}], "batch_size": 2}}


@pytest.mark.parametrize("kind,norm,residual,ffn", [
    ("decoder", "pre", False, True), ("decoder", "post", ["attention"], False), ("encoder", "none", ["ffn"], True),
    ("encoder", "post", True, False), ("decoder", "none", False, False)])
def test_training_verifies_every_update(kind, norm, residual, ffn):
    d = doc(kind=kind, norm=norm, residual=residual, ffn=ffn, dropout=0.1 if kind == "decoder" else 0.0)
    d["input"] = {"vocab": ["<pad>", "a", "b", "c"], "tokens": ["a", "b", "c"]}
    d.update(TRAIN if kind == "decoder" else TRAIN_CLASSIFY)
    sc = parse_scenario(yaml.safe_dump(d, sort_keys=False))
    trace = build_trace(sc)
    verdicts = verify_scenario(sc, trace)
    assert verdicts.training and all(c.ok for c in verdicts.training), [c for c in verdicts.training if not c.ok]
    assert all(c.ok for c in verdicts.values()) and verdicts.totals.ok


@pytest.mark.parametrize("norm,residual,ffn", [("post", False, True), ("pre", ["ffn"], True),
                                               ("none", True, False), ("pre", False, False)])
def test_generation_with_the_kv_cache_verifies(norm, residual, ffn):
    d = doc(kind="decoder", norm=norm, residual=residual, ffn=ffn, final_norm=True)
    d["generate"] = {"max_new_tokens": 3, "temperature": 0.8, "seed": 2}
    sc = parse_scenario(yaml.safe_dump(d, sort_keys=False))
    trace = build_trace(sc)
    gen = [s for s in trace.steps if s.phase == "generate"]
    assert gen
    verdicts = verify_scenario(sc, trace)
    assert all(verdicts[s.id].ok and verdicts[s.id].compared for s in gen if s.id != "gen.text")


def test_check_on_the_command_line_verifies_a_trained_block_without_residuals(tmp_path, capsys):
    d = doc(kind="decoder", norm="post", residual=False, ffn=False)
    d["input"] = {"vocab": ["<pad>", "a", "b", "c"], "tokens": ["a", "b", "c"]}
    d.update(TRAIN)
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr()


# -- the cost model against a real run ----------------------------------------------------------------
@pytest.mark.parametrize("kind,norm,residual,ffn", [
    ("encoder", "post", False, True), ("decoder", "pre", ["attention"], False), ("encoder", "none", ["ffn"], True),
    ("decoder", "post", True, False), ("encoder", "pre", False, False)])
def test_the_cost_model_prices_the_arrays_of_a_run(kind, norm, residual, ffn):
    sc = scenario(kind=kind, norm=norm, residual=residual, ffn=ffn)
    trace, b = build_trace(sc), budget(sc)
    assert_costs_match_the_run(trace, b)


# -- located errors ---------------------------------------------------------------------------------
BASE = "name: e\nmodel:\n  kind: {kind}\n{line}\ninput:\n  tokens: [a, b]\n"
S2S = "name: e\nmodel:\n  kind: seq2seq\n{line}\ninput:\n  source: [a, b]\n  target: [<bos>, a, <eos>]\n"
ERRORS = {
    "residual-on-seq2seq": (S2S.format(line="  residual: false"), 4, 3, ["`residual` does not apply to `kind: seq2seq`"]),
    "ffn-on-seq2seq": (S2S.format(line="  ffn: false"), 4, 3, ["`ffn` does not apply to `kind: seq2seq`"]),
    "ffn-on-mlp": ("name: e\nmodel:\n  kind: mlp\n  sizes: [2, 1]\n  ffn: false\ninput:\n  features: [1, 2]\n"
                   "task:\n  target: [0.5]\n", 5, 3, ["`ffn` does not apply to `kind: mlp`"]),
    "residual-not-a-sublayer": (BASE.format(kind="encoder", line="  residual: [attention, fnn]"), 4, 25,
                                ["`fnn` is not a sublayer", "did you mean `ffn`"]),
    "residual-twice": (BASE.format(kind="decoder", line="  residual: [ffn, ffn]"), 4, 19, ["`ffn` is listed twice"]),
    "residual-ffn-without-ffn": (BASE.format(kind="encoder", line="  ffn: false\n  residual: [ffn]"), 5, 14,
                                 ["`ffn: false`", "no FFN", "[attention]"]),
    "residual-a-number": (BASE.format(kind="encoder", line="  residual: 2"), 4, 13,
                          ["`residual` must be true or false or a list"]),
    "residual-nested": (BASE.format(kind="encoder", line="  residual: [[attention]]"), 4, 14,
                        ["a list of 1", "attention", "ffn"]),
}


@pytest.mark.parametrize("case", ERRORS)
def test_each_bad_use_is_one_located_line(case, tmp_path, capsys):
    content, line, col, words = ERRORS[case]
    path = tmp_path / "case.yaml"
    path.write_text(content)
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:{line}:{col}: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.parametrize("residual,ffn", list(itertools.product([False, ["attention"], ["ffn"], True], [True])) +
                         [(False, False), (True, False)])
def test_an_exported_yaml_reads_back_the_same_model(residual, ffn):
    from stepper.export.yaml_scenario import model_section
    sc = scenario(residual=residual, ffn=ffn)
    section = model_section(sc)
    assert ("residual" in section) == (kept(residual, True) != {"attention", "ffn"})
    assert ("ffn" in section) == (not ffn)
    back = doc(residual=True, ffn=True)
    back["model"] = section
    assert parse_scenario(yaml.safe_dump(back)).model == sc.model


def test_the_size_limit_does_not_blame_d_ff_when_there_is_no_ffn():
    from dataclasses import replace

    from stepper.scenario.limits import over_limit
    wide = replace(scenario().model, d_model=64, d_ff=16384, n_layers=48)
    assert over_limit(wide, 5, "classify", 2, 4, limit=10**6)[1][0] == ("model", "d_ff")
    message, blame = over_limit(replace(wide, ffn=False), 5, "classify", 2, 4, limit=10**6)
    assert "d_ff" not in message.split(";")[0] and ("model", "d_ff") not in blame[:1]


@pytest.mark.parametrize("residual,ffn", [(False, False), (["ffn"], True), (True, False)])
def test_the_markdown_of_a_trained_ablated_model_says_what_training_did(residual, ffn, tmp_path, capsys):
    d = doc(kind="decoder", norm="pre", residual=residual, ffn=ffn)
    d["input"] = {"vocab": ["<pad>", "a", "b", "c"], "tokens": ["a", "b", "c"]}
    d.update(TRAIN)
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    assert cli.main(["export", str(path), "--format", "md", "-o", str(tmp_path / "t.md")]) == 0, capsys.readouterr()
    md = (tmp_path / "t.md").read_text()
    assert "## What training did" in md
    assert ("The FFN units that fire most" in md) == ffn
    assert ("How far each layer moves each token" in md) == (ffn and residual is True)


def test_the_markdown_model_table_names_the_ablation():
    from stepper.export.markdown import render_markdown
    md = render_markdown(build_trace(scenario(ffn=False)))
    assert "| FFN | none: attention-only blocks |" in md and "residual adds" not in md
    md = render_markdown(build_trace(scenario(residual=["attention"])))
    assert "| residual adds | attention only: each sublayer without one replaces the stream |" in md
    assert "| residual adds | none: " in render_markdown(build_trace(scenario(residual=False, ffn=False)))
    plain = render_markdown(build_trace(scenario()))
    assert "attention-only" not in plain and "residual adds" not in plain
