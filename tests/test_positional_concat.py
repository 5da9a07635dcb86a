"""`positional: concat`: X0 = [token rows of width d_model − d_pos | sinusoids of width d_pos].

Checked everywhere a transformer runs: the recorded pass (every value and gradient against the torch
reference), a hand-built torch computation of X0 and of embed.tok's gradient, training and generation
through `stepper check`, the parameter shapes, the cost model against measured arrays, the YAML export,
and the located errors of each bad use.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cost_helpers import assert_costs_match_the_run

from stepper import cli
from stepper.engine import build_trace
from stepper.scenario import parse_scenario
from stepper.scenario.budget import budget
from stepper.verify.scenario_check import verify_scenario

TASKS = {"encoder": "task:\n  kind: classify\n  classes: [neg, pos]\n  label: pos\n",
         "decoder": "task:\n  kind: next_token\n"}


def text(kind: str = "encoder", norm: str = "post", extra: str = "  d_pos: 2\n", tail: str = "") -> str:
    return (f"name: cat\nmodel:\n  kind: {kind}\n  d_model: 6\n  n_heads: 2\n  d_ff: 5\n  n_layers: 2\n"
            f"  norm: {norm}\n  positional: concat\n{extra}"
            "input:\n  vocab: [\"<pad>\", I, am, happy, sad]\n  tokens: [I, am, happy, I]\n"
            f"{TASKS[kind]}weights:\n  seed: 1\n  init: {{std: 0.5, bias_std: 0.2}}\n{tail}")


def value(trace, key: str) -> np.ndarray:
    """The array a step of `trace` recorded under `key`."""
    return next(t.value for s in trace.steps for t in s.outputs.values() if t.key == key)


def sinusoid_by_hand(n: int, d: int) -> np.ndarray:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)), written out entry by entry."""
    pe = np.zeros((n, d))
    for p in range(n):
        for c in range(d):
            angle = p / 10000 ** ((c - c % 2) / d)
            pe[p, c] = math.sin(angle) if c % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize("norm", ["post", "pre", "none"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_every_value_and_gradient_matches_the_torch_reference(kind, norm):
    sc = parse_scenario(text(kind, norm))
    trace = build_trace(sc)
    verdicts = verify_scenario(sc, trace)
    bad = {sid: c.worst for sid, c in verdicts.items() if not c.ok}
    assert not bad and verdicts.totals.ok, (bad, verdicts.totals)
    assert all(c.max_abs_err <= 1e-10 for c in verdicts.values())
    assert verdicts["fwd.pos"].compared and verdicts["bwd.pos"].compared and verdicts["bwd.embed"].compared


def test_the_widths_are_d_tok_plus_d_pos_and_the_table_is_d_tok_wide():
    sc = parse_scenario(text())
    assert sc.params["embed.tok"].shape == (5, 4) and "embed.pos" not in sc.params
    trace = build_trace(sc)
    step = next(s for s in trace.steps if s.id == "fwd.pos")
    assert step.bindings["d_tok"] == "4" and step.bindings["d_pos"] == "2" and step.bindings["d_model"] == "6"
    assert "[E | PE]" in step.formula.plain and "d_tok + d_pos = d_model" in step.formula.plain
    shapes = {t.key: t.value.shape for t in step.inputs.values()} | {t.key: t.value.shape for t in step.outputs.values()}
    assert shapes == {"tok_emb": (4, 4), "pos": (4, 2), "x0": (4, 6)}


def test_x0_and_the_table_gradient_match_a_hand_built_torch_concatenation():
    """A third party: torch's own embedding and cat, with sinusoids written out entry by entry; the table's
    gradient is the token columns of dX0 only, scattered back to the rows that were looked up."""
    sc = parse_scenario(text("decoder", "pre"))
    trace = build_trace(sc)
    ids = torch.tensor(sc.token_ids[:-1])
    table = torch.tensor(sc.params["embed.tok"], requires_grad=True)
    x0 = torch.cat([F.embedding(ids, table), torch.tensor(sinusoid_by_hand(len(ids), 2))], dim=-1)
    assert np.max(np.abs(x0.detach().numpy() - value(trace, "x0"))) <= 1e-12
    x0.backward(torch.tensor(value(trace, "d:x0")))
    assert np.max(np.abs(table.grad.numpy() - trace.grads["embed.tok"])) <= 1e-12


def test_the_default_d_pos_is_half_of_d_model():
    sc = parse_scenario(text(extra=""))
    assert sc.model.d_pos == 3 and sc.params["embed.tok"].shape == (5, 3)
    assert parse_scenario(text().replace("concat", "sinusoidal").replace("  d_pos: 2\n", "")).model.d_pos == 0


TRAIN = ("optim:\n  kind: adam\n  lr: 0.01\n  steps: 3\n"
         "data:\n  batch_size: 2\n  examples:\n")
EXAMPLES = {"encoder": ["{tokens: [I, am, happy], label: pos}", "{tokens: [sad, I], label: neg}",
                        "{tokens: [am, sad, sad, I], label: neg}"],
            "decoder": ["{tokens: [I, am, happy]}", "{tokens: [sad, I]}", "{tokens: [am, sad, sad, I, am]}"]}


def check(tmp_path, capsys, content: str) -> tuple[int, str]:
    path = tmp_path / "case.yaml"
    path.write_text(content, encoding="utf-8")
    code = cli.main(["check", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_training_on_a_data_set_is_verified_update_by_update(tmp_path, capsys, kind, norm):
    content = text(kind, norm, tail=TRAIN + "".join(f"    - {e}\n" for e in EXAMPLES[kind]))
    sc = parse_scenario(content)
    trace = build_trace(sc)
    verdicts = verify_scenario(sc, trace)
    assert len(verdicts.training) > 0 and all(c.ok for c in verdicts.training)
    assert trace.trained["embed.tok"].shape == (5, 4)
    code, out = check(tmp_path, capsys, content)
    assert code == 0, out


def test_generation_with_the_kv_cache_is_verified(tmp_path, capsys):
    content = text("decoder", "pre", tail="generate:\n  max_new_tokens: 4\n  temperature: 0.8\n  seed: 2\n")
    sc = parse_scenario(content)
    verdicts = verify_scenario(sc, build_trace(sc))
    generated = [sid for sid in verdicts if sid.startswith("gen")]
    assert generated and all(verdicts[sid].ok for sid in generated)
    code, out = check(tmp_path, capsys, content)
    assert code == 0, out


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_the_cost_model_counts_the_arrays_a_run_makes(kind):
    sc = parse_scenario(text(kind, "pre", extra="  d_pos: 1\n"))
    trace, b = build_trace(sc), budget(sc)
    assert_costs_match_the_run(trace, b)
    wider = budget(sc, d_model=12)
    assert wider.model.d_pos == 2 and wider.n_params > b.n_params


def test_a_yaml_export_reads_back_as_the_same_model(tmp_path, capsys):
    from stepper.export.yaml_scenario import model_section

    sc = parse_scenario(text("decoder"))
    assert model_section(sc)["d_pos"] == 2
    plain = parse_scenario(text("decoder").replace("concat", "learned").replace("  d_pos: 2\n", ""))
    assert "d_pos" not in model_section(plain)
    path = tmp_path / "cat.yaml"
    path.write_text(text("decoder"), encoding="utf-8")
    assert cli.main(["export", str(path), "--format", "yaml", "-o", str(tmp_path / "out.yaml")]) == 0
    capsys.readouterr()
    again = parse_scenario((tmp_path / "out.yaml").read_text(encoding="utf-8"))
    assert again.model == sc.model


SEQ2SEQ = ("name: s\nmodel:\n  kind: seq2seq\n  d_model: 4\n  positional: concat\n"
           "input:\n  source: [a, b]\n  target: [\"<bos>\", c, \"<eos>\"]\n")
# (file content, line, column, words the message must contain)
ERRORS = {
    "d_pos-with-sinusoidal": (text().replace("concat", "sinusoidal"), 10, 3,
                              ["`d_pos`", "`positional: concat`"]),
    "d_pos-zero": (text(extra="  d_pos: 0\n"), 10, 10, ["d_pos", "from 1 to"]),
    "d_pos-is-d_model": (text(extra="  d_pos: 6\n"), 10, 10, ["d_pos", "1 to 5", "d_model"]),
    "d_model-one": (text(extra="").replace("d_model: 6\n  n_heads: 2", "d_model: 1\n  n_heads: 1"), 9, 15,
                    ["d_model", "at least 2"]),
    "tied-embeddings": (text("decoder", extra="  tie_embeddings: true\n"), 10, 19,
                        ["tie_embeddings", "concat", "d_model"]),
    "seq2seq": (SEQ2SEQ, 5, 15, ["concat", "encoder", "decoder"]),
    "d_pos-on-seq2seq": (SEQ2SEQ.replace("concat", "sinusoidal\n  d_pos: 2"), 6, 3, ["d_pos"]),
}


@pytest.mark.parametrize("case", ERRORS)
def test_each_bad_use_is_one_located_error(tmp_path, capsys, case):
    content, line, col, words = ERRORS[case]
    code, err = check(tmp_path, capsys, content)
    path = tmp_path / "case.yaml"
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"{path}:{line}:{col}: error: "), err
    for word in words:
        assert word in err, (word, err)
    assert " — " in err


def test_a_width_sweep_keeps_a_column_for_the_tokens_and_one_for_the_positions(tmp_path, capsys):
    path = tmp_path / "cat.yaml"
    path.write_text(text(extra="").replace("n_heads: 2", "n_heads: 1"), encoding="utf-8")
    assert cli.main(["cost", str(path), "--sweep", "d_model=1,8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stepper: error: --sweep d_model: 1 ") and "concat" in err, err
    assert cli.main(["cost", str(path), "--sweep", "d_model=2,8"]) == 0


def test_the_app_draws_the_concatenated_positions_as_sinusoidal_waves():
    from stepper.tui.plots import legend, plot_kind

    trace = build_trace(parse_scenario(text()))
    step = next(s for s in trace.steps if s.id == "fwd.pos")
    assert plot_kind(trace, step) == "pe"
    words, waves = legend(trace, step, "pe")
    assert words.startswith("positional waves") and [label for label, _ in waves] == ["d4 sin", "d5 cos"]


def test_the_markdown_model_table_names_the_split():
    from stepper.export.markdown import render_markdown

    md = render_markdown(build_trace(parse_scenario(text())))
    assert "| positions | concat, d_pos = 2 (token rows d_model − d_pos = 4) |" in md


async def test_the_app_walks_every_step_and_shows_the_split():
    from tui_helpers import main_screen, screen_text, walk_every_step

    from stepper.tui.app import StepperApp

    sc = parse_scenario(text("decoder", "pre").replace("n_layers: 2", "n_layers: 1"))
    app = StepperApp(sc, build_trace(sc), verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await walk_every_step(app, pilot)
        screen = main_screen(app)
        screen.go_to(screen.trace.index_of("fwd.pos"))
        await pilot.pause()
        shown = screen_text(app)
        assert "X = [E | PE]" in shown and "Positions beside the tokens" in shown, shown
