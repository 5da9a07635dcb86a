"""`stepper diff` as markdown: a summary of every paired step, A / B / Δ tables, and the unpaired steps."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_export_markdown import MarkdownSnapshot, assert_cell, assert_tables_render, tables

from stepper.commands.diff import run_diff
from stepper.diff import diff_traces
from stepper.engine import build_trace
from stepper.export.md_diff import render_diff_markdown
from stepper.present.numbers import table_number
from stepper.scenario import parse_scenario

ENCODER = """
name: {name}
model: {{kind: encoder, d_model: 4, n_heads: 2, d_ff: 4, attention_scale: {scale}}}
input: {{vocab: ["<pad>", I, am, happy, sad], tokens: [I, {word}]}}
task: {{kind: classify, classes: [negative, positive], label: positive}}
weights: {{seed: 0}}
"""

MLP = """
name: {name}
model: {{kind: mlp, sizes: [2, 2, 1], activation: relu}}
input: {{features: [1.0, -1.0]}}
task: {{kind: regress, target: [{target}]}}
weights: {{seed: 3, init: {{std: 0.5}}}}
"""


@pytest.fixture
def snapshot_md(snapshot):
    return snapshot.use_extension(MarkdownSnapshot)


def traces(template: str, a: dict, b: dict):
    return build_trace(parse_scenario(template.format(**a))), build_trace(parse_scenario(template.format(**b)))


def encoder_pair():
    return traces(ENCODER, {"name": "scaled", "scale": "true", "word": "am"},
                  {"name": "unscaled", "scale": "false", "word": "happy"})


def section(md: str, heading: str) -> str:
    return md.split(heading + "\n", 1)[1].split("\n## ", 1)[0]


def test_golden_diff(snapshot_md):
    ta, tb = traces(MLP, {"name": "half", "target": 0.5}, {"name": "two", "target": 2.0})
    assert render_diff_markdown(diff_traces(ta, tb), traces=(ta, tb), sources=("half.yaml", "two.yaml")) == snapshot_md


def test_summary_lists_every_paired_step_with_its_largest_change():
    ta, tb = encoder_pair()
    d = diff_traces(ta, tb)
    md = render_diff_markdown(d, traces=(ta, tb))
    rows = tables(section(md, "## Every paired step"))[0][1:]
    assert [r[2] for r in rows] == [sd.step_id for sd in d.paired]
    for r, sd in zip(rows, d.paired, strict=True):
        sizes = [o.max_abs for o in sd.outputs if o.delta is not None]  # only in one, or reshaped: no number
        assert r[3] == ("0" if sd.max_abs == 0 else table_number(max(sizes), 4) if sizes else "—")
        assert (r[4] == "identical") == (sd.max_abs == 0)
    loss = tables(md)[0]
    assert loss[1] == ["loss", table_number(d.loss_a, 4), table_number(d.loss_b, 4), table_number(d.loss_b - d.loss_a, 4)]


def test_changed_outputs_show_a_b_and_delta_with_both_labels():
    ta, tb = encoder_pair()
    d = diff_traces(ta, tb)
    md = render_diff_markdown(d, traces=(ta, tb), precision=6)
    step = section(md, "## Steps that differ").split("`fwd.embed`", 1)[1].split("\n### ", 1)[0]
    a, b, delta = tables(step)
    assert [r[0] for r in a[1:]] == ["I", "am"] and [r[0] for r in b[1:]] == ["I", "happy"]
    assert [r[0] for r in delta[1:]] == ["I", "am→happy"]
    o = next(sd for sd in d.paired if sd.step_id == "fwd.embed").outputs[0]
    for table, value in ((a, o.a), (b, o.b), (delta, o.delta)):
        for row, want in zip(table[1:], value, strict=True):
            for cell, x in zip(row[1:], want, strict=True):
                assert_cell(cell, x, 6, float(np.max(np.abs(value))))
    assert "*A* `E` [2×4]" in step and "*B* `E` [2×4]" in step and "*Δ = B − A* `E` [2×4]" in step


def test_unpaired_steps_are_listed_and_every_table_renders():
    ta, tb = encoder_pair()
    d = diff_traces(ta, tb)
    md = render_diff_markdown(d, traces=(ta, tb))
    assert d.only_a and not d.only_b
    only = section(md, "## Only in A")
    assert all(f"- `{i}`" in only for i in d.only_a) and "## Only in B" not in md
    assert assert_tables_render(md) > 20


def test_identical_traces_have_nothing_to_show():
    ta, tb = traces(MLP, {"name": "a", "target": 0.5}, {"name": "b", "target": 0.5})
    md = render_diff_markdown(diff_traces(ta, tb))
    assert "## Steps that differ" not in md and "differ and" in md
    assert all(r[4] == "identical" for r in tables(md)[1][1:])


def test_precision_is_checked():
    ta, tb = traces(MLP, {"name": "a", "target": 0.5}, {"name": "b", "target": 1})
    with pytest.raises(ValueError):
        render_diff_markdown(diff_traces(ta, tb), precision=0)


def test_diff_command_formats_and_output_file(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(MLP.format(name="a", target=0.5), encoding="utf-8")
    b.write_text(MLP.format(name="b", target=1.5), encoding="utf-8")
    text = io.StringIO()
    assert run_diff(str(a), str(b), out=text) == 0
    assert text.getvalue().startswith(f"A = {a} (a), B = {b} (b)\nloss: A ")
    md = io.StringIO()
    assert run_diff(str(a), str(b), fmt="md", out=md) == 0
    assert md.getvalue().startswith("# a → b: what changes") and f"(`{a}`)" in md.getvalue()
    out = tmp_path / "d.md"
    assert run_diff(str(a), str(b), fmt="md", output=str(out)) == 0
    assert out.read_text(encoding="utf-8") == md.getvalue()
    assert run_diff(str(a), str(b), output=str(out)) == 3  # exists, no force
    assert run_diff(str(a), str(b), output=str(out), force=True) == 0
    assert out.read_text(encoding="utf-8") == text.getvalue()


DECODER = """
name: {name}
model: {{kind: decoder, d_model: 4, n_heads: 1, d_ff: 4}}
input: {{vocab: [I, am, happy, sad], tokens: [I, am, {word}, sad]}}
task: {{kind: next_token}}
"""


def test_delta_of_masked_cells_is_zero_not_nan():
    ta, tb = traces(DECODER, {"name": "a", "word": "happy"}, {"name": "b", "word": "sad"})
    md = render_diff_markdown(diff_traces(ta, tb), traces=(ta, tb))
    step = section(md, "## Steps that differ").split("`fwd.L0.attn.mask`", 1)[1].split("\n### ", 1)[0]
    a, b, delta = tables(step)
    assert a[1][2:] == ["−∞", "−∞"] and b[1][2:] == ["−∞", "−∞"] and delta[1][2:] == ["0", "0"]
    assert [r[0] for r in delta[1:]] == ["I", "am", "happy→sad"]
    assert "NaN" not in md


def test_a_step_whose_output_only_one_side_has_is_summed_up_by_the_one_with_a_number():
    import numpy as np

    from stepper.commands.diff import diff_text
    from stepper.diff import OutputDiff, StepDiff, TraceDiff

    x = OutputDiff("X", np.zeros(2), np.ones(2) * 0.3, np.ones(2) * 0.3, 0.3)
    y = OutputDiff("Y", np.zeros(2), None, None, float("inf"), "only in A")
    d = TraceDiff("a", "b", [StepDiff("s", "S", [y, x])], [], [], 1.0, 1.0)
    row = next(r for r in tables(render_diff_markdown(d))[1][1:] if r[2] == "s")
    assert row[3] == "0.3" and row[4] == "X"  # not Y, which has no number
    line = next(li for li in diff_text(d, "a.yaml", "b.yaml").splitlines() if li.startswith("  s "))
    assert "Y — (only in A)" in line and "inf" not in line and line.split()[1] == "0.3"


def test_a_setting_that_differs_is_written_in_words_not_python():
    ta, tb = encoder_pair()
    notes = diff_traces(ta, tb).notes
    assert "the models differ in attention_scale (yes vs no)" in notes
    assert not any("True" in n or "False" in n or "None" in n for n in notes)


ACTIVATION = """
name: {name}
model: {{kind: encoder, d_model: 4, n_heads: 2, d_ff: 4, activation: {activation}}}
input: {{vocab: ["<pad>", I, am], tokens: [I, am]}}
task: {{kind: classify, classes: [negative, positive], label: positive}}
weights: {{seed: 0}}
"""


def test_a_structural_difference_is_named_with_the_step_where_the_change_starts():
    ta, tb = traces(ACTIVATION, {"name": "bent", "activation": "gelu"}, {"name": "tanh", "activation": "tanh"})
    d = diff_traces(ta, tb)
    assert any(n.startswith("the FFN bends its hidden values with another curve") for n in d.notes)
    # nothing before the FFN's bend changed: the diff says where the chain of differences begins
    first = next(sd for sd in d.paired if sd.max_abs != 0.0)
    assert first.step_id == "fwd.L0.ffn.act"
    assert d.notes[-1].startswith("the first paired step that differs is `fwd.L0.ffn.act`")
    assert all(sd.max_abs == 0.0 for sd in d.paired[:[sd.step_id for sd in d.paired].index("fwd.L0.ffn.act")])
    md = render_diff_markdown(d, traces=(ta, tb))
    assert "> **Note.** The first paired step that differs is `fwd.L0.ffn.act`" in md


def test_ablation_settings_read_as_words_in_the_notes():
    from pathlib import Path

    from stepper.scenario import load_scenario

    root = Path(__file__).resolve().parent.parent / "scenarios"

    def pair(a, b):
        return diff_traces(*(build_trace(load_scenario(root / f"{n}.yaml")) for n in (a, b))).notes

    assert "the models differ in residual (attention and ffn vs none)" in pair("residual_on_deep", "residual_off_deep")
    assert pair("positional_add", "positional_concat")[0] == \
        "the models differ in d_pos (not set vs 2), positional (sinusoidal vs concat)"
