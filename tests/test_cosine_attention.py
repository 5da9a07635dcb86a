"""`attention: cosine`: unit-length query and key rows, cosine scores, divided by a temperature τ.

Checked everywhere a transformer runs: each new stage against torch's own functions, the recorded
pass against the torch reference (every step and every gradient), the batched training engine against
an independent torch model, training and generation through `stepper check`, torch's own
scaled_dot_product_attention as a third party, and a located error for each bad use.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from batched_helpers import batch, scenario, torch_loss_and_grads
from cost_helpers import assert_costs_match_the_run
from stage_check import check_stage

from stepper import cli
from stepper.engine import cosine_scores, run, temperature, unit_rows
from stepper.engine.batched_transformer import BatchedTransformer
from stepper.scenario import parse_scenario
from stepper.scenario.budget import budget
from stepper.scenario.params import param_specs
from stepper.verify import checked

EXAMPLES = [["a", "c", "b", "d", "e"], ["b", "e"], ["c", "c", "a"], ["g", "f", "e", "d"]]


# ---------------------------------------------------------------- the three new stages


def test_unit_rows_is_torch_normalize_forward_and_backward():
    check_stage([(2, 5, 3)], unit_rows.forward, unit_rows.backward,
                lambda x: F.normalize(x, dim=-1, eps=1e-12))


def test_a_zero_row_stays_zero_as_in_torch_and_warns_nothing():
    x = np.array([[[0.0, 0.0], [3.0, 4.0]]])
    with np.errstate(all="raise"):
        check_stage([x], unit_rows.forward, unit_rows.backward, lambda v: F.normalize(v, dim=-1, eps=1e-12))


def test_cosine_scores_and_temperature_match_torch():
    check_stage([(2, 4, 3), (2, 5, 3)], cosine_scores.forward, cosine_scores.backward,
                lambda q, k: q @ k.transpose(-1, -2))
    check_stage([(2, 4, 5)], lambda s: temperature.forward(s, 0.25), temperature.backward, lambda s: s / 0.25)


# ---------------------------------------------------------------- the recorded pass vs the torch reference

VOCAB = '["<pad>", a, b, c, d, e]'


def text(kind: str, norm: str, *, extra: str = "", tau: str = "0.3") -> str:
    task = "kind: next_token" if kind == "decoder" else "kind: classify\n  classes: [x, y]\n  label: y"
    temp = f"\n  attention_temperature: {tau}" if tau else ""
    return (f"name: cos\nmodel:\n  kind: {kind}\n  d_model: 6\n  n_heads: 2\n  n_layers: 2\n  d_ff: 5\n"
            f"  norm: {norm}\n  attention: cosine{temp}{extra}\ninput:\n  vocab: {VOCAB}\n  tokens: [a, c, b, d]\n"
            f"task:\n  {task}\nweights:\n  seed: 4\n  init: {{std: 0.7, bias_std: 0.2}}\n")


@pytest.mark.parametrize("norm", ["post", "pre", "none"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_every_step_and_gradient_matches_the_torch_reference(kind, norm):
    trace, verdicts = checked(parse_scenario(text(kind, norm)), 1e-10)
    assert verdicts.totals.ok
    assert all(c.ok for c in verdicts.values()), [i for i, c in verdicts.items() if not c.ok]
    ids = [s.id for s in trace.steps]
    for step in ("normalize_q", "normalize_k", "scores", "scale"):
        assert f"fwd.L1.attn.h1.{step}" in ids and verdicts[f"fwd.L1.attn.h1.{step}"].compared
        assert f"bwd.L0.attn.h0.{step}" in ids and verdicts[f"bwd.L0.attn.h0.{step}"].compared
    scale = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.scale")
    assert scale.title == "Divide by τ" and scale.bindings["τ"] == "0.3"
    normalize = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.normalize_q")
    assert normalize.title == "Normalise Q rows" and normalize.bindings["ε"] == "1e-12"
    scores = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.scores")
    s_raw = scores.outputs["S"].value
    assert np.all(np.abs(s_raw) <= 1 + 1e-12) and scores.title == "Cosine scores Q̂·K̂ᵀ"


def test_the_normalised_rows_have_unit_length_and_the_default_temperature_is_a_tenth():
    sc = parse_scenario(text("encoder", "post", tau=""))
    assert sc.model.attention == "cosine" and sc.model.attention_temperature == 0.1
    trace = run.build_trace(sc)
    step = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.normalize_k")
    k_hat = step.outputs["K̂"].value
    assert np.allclose(np.linalg.norm(k_hat, axis=-1), 1.0)
    scale = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.scale")
    s_in = next(s for s in trace.steps if s.id == "fwd.L0.attn.h0.scores").outputs["S"].value
    assert np.allclose(scale.outputs["S'"].value, s_in / 0.1)


def test_dot_attention_is_today_s_and_cosine_adds_no_parameter():
    dot = parse_scenario(text("encoder", "post", tau="").replace("  attention: cosine\n", ""))
    cos = parse_scenario(text("encoder", "post"))
    assert dot.model.attention == "dot"
    assert list(dot.params) == list(cos.params)
    assert param_specs(dot.model, 6, 2) == param_specs(cos.model, 6, 2)
    assert "normalize_q" not in " ".join(s.id for s in run.build_trace(dot).steps)


def test_hand_built_torch_attention_with_sdpa_agrees(tmp_path):
    """A third party: torch's scaled_dot_product_attention on F.normalize'd queries and keys, scale 1/τ."""
    sc = parse_scenario(text("decoder", "none", extra="\n  bias: false").replace("n_layers: 2", "n_layers: 1"))
    trace = run.build_trace(sc)
    p = {k: torch.tensor(v) for k, v in sc.params.items()}
    x0 = torch.tensor(next(s for s in trace.steps if s.id == "fwd.pos").outputs["X"].value)
    heads = [(x0 @ p[f"layers.0.attn.W_{w}"]).reshape(len(x0), 2, 3).transpose(0, 1) for w in "QKV"]
    q, k, v = heads
    z = F.scaled_dot_product_attention(F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, is_causal=True,
                                       scale=1 / 0.3)
    out = z.transpose(0, 1).reshape(len(x0), 6) @ p["layers.0.attn.W_O"]
    ours = next(s for s in trace.steps if s.id == "fwd.L0.attn.out").outputs
    assert np.max(np.abs(next(iter(ours.values())).value - out.numpy())) <= 1e-12


# ---------------------------------------------------------------- batched training and generation


@pytest.mark.parametrize("config", [{"norm": "post"}, {"norm": "pre", "kind": "decoder"},
                                    {"norm": "none", "attention_temperature": 0.5}])
def test_the_padded_batch_matches_torch_autograd(tmp_path, config):
    sc = scenario(tmp_path, attention="cosine", **config)
    b = batch(sc, EXAMPLES, [0, 2, 1, 1])
    loss, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, b)
    want_loss, want_grads = torch_loss_and_grads(sc, b)
    assert abs(loss - want_loss) <= 1e-10
    for name in want_grads:
        assert np.max(np.abs(grads[name] - want_grads[name])) <= 1e-10, name


def test_one_example_batched_is_the_recorded_pass(tmp_path):
    sc = scenario(tmp_path, attention="cosine", kind="decoder")
    loss, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, batch(sc, [list(sc.tokens)]))
    want_loss, want_grads = run.loss_and_grads(sc, sc.params)
    assert abs(loss - want_loss) <= 1e-12
    for name, g in want_grads.items():
        assert np.max(np.abs(grads[name] - g)) <= 1e-12, name


TRAIN = """
optim:
  kind: adam
  lr: 0.05
  steps: 3
data:
  batch_size: 2
  examples:
    - {text: a b c, label: x}
    - {text: d e, label: y}
    - {text: b b a e, label: y}
"""


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_training_is_verified_update_by_update(tmp_path, capsys, norm):
    path = tmp_path / "train.yaml"
    path.write_text(text("encoder", norm) + TRAIN)
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().out


def test_generation_with_the_kv_cache_is_verified(tmp_path, capsys):
    path = tmp_path / "gen.yaml"
    path.write_text(text("decoder", "pre") + "generate:\n  max_new_tokens: 4\n  greedy: true\n")
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().out
    trace = run.build_trace(parse_scenario(path.read_text()))
    assert len([s for s in trace.steps if s.part == "decode"]) == 3


# ---------------------------------------------------------------- the cost model


@pytest.mark.parametrize("kind,norm", [("decoder", "pre"), ("encoder", "post")])
def test_the_cost_model_counts_the_arrays_and_flops_of_the_cosine_pass(kind, norm):
    sc = parse_scenario(text(kind, norm))
    assert_costs_match_the_run(run.build_trace(sc), budget(sc))


def test_matrix_product_flops_equal_torch_s_own_count():
    from torch.utils.flop_counter import FlopCounterMode

    from stepper.verify.reference import reference_graph

    sc = parse_scenario(text("decoder", "post"))
    with FlopCounterMode(display=False) as counter:
        reference_graph(sc)
    assert counter.get_total_flops() == 3 * sum(op.matmul for op in budget(sc).ops)


# ---------------------------------------------------------------- located errors

BAD = {
    "temperature-with-dot": (text("encoder", "post").replace("  attention: cosine\n", ""), 9, 3,
                             ["`attention_temperature`", "attention: cosine"]),
    "unscaled-cosine": (text("encoder", "post", extra="\n  attention_scale: false"), 11, 3,
                        ["attention_scale: false", "τ"]),
    "temperature-zero": (text("encoder", "post", tau="0"), 10, 26, ["above 0"]),
    "unknown-attention": (text("encoder", "post").replace("attention: cosine", "attention: cos"), 9, 14,
                          ["cosine"]),
    "cosine-seq2seq": ("name: s\nmodel:\n  kind: seq2seq\n  attention: cosine\ninput:\n  source: [a]\n"
                       "  target: [\"<bos>\", b, \"<eos>\"]\n", 4, 3, ["encoder", "decoder"]),
    "cosine-mlp": ("name: m\nmodel:\n  kind: mlp\n  sizes: [2, 1]\n  attention: cosine\ninput:\n"
                   "  features: [1, 2]\ntask:\n  target: [1]\n", 5, 3, ["encoder", "decoder"]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_use_is_a_located_error(tmp_path, capsys, name):
    body, line, col, words = BAD[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}:{col}: error:" in err, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_the_temperature_shows_in_the_export_and_the_yaml_round_trip(tmp_path):
    from stepper.export.markdown import render_markdown
    from stepper.export.yaml_scenario import model_section

    sc = parse_scenario(text("encoder", "post"))
    trace = run.build_trace(sc)
    md = render_markdown(trace)
    assert "cosine" in md and "τ = 0.3" in md
    section = model_section(sc)
    assert section["attention"] == "cosine" and section["attention_temperature"] == 0.3
    dot = parse_scenario(text("encoder", "post", tau="").replace("  attention: cosine\n", ""))
    assert "attention" not in model_section(dot) and "attention_temperature" not in model_section(dot)
    assert math.isclose(sc.model.attention_temperature, 0.3)
