"""The markdown export: golden documents, numbers that match the trace, tables that render, filters."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from stepper.engine import build_trace
from stepper.export.examples import render_example, stale_examples
from stepper.export.markdown import render_markdown
from stepper.export.md_params import model_groups, n_outputs
from stepper.export.md_steps import math_block
from stepper.export.md_tables import MAX_COLS, MAX_ROWS
from stepper.scenario import ModelConfig, load_scenario, parse_scenario
from stepper.scenario.params import count, param_specs
from stepper.trace import Formula, Step, Tensor
from stepper.verify.compare import verify_trace
from stepper.verify.reference import torch_reference
from stepper.verify.verdicts import Check

ROOT = Path(__file__).resolve().parents[1]
DELIMITER = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")

CHECKS: dict[int, dict] = {}  # id(a verified trace) → its verdicts, as verification returned them


def render(trace, **kw) -> str:
    return render_markdown(trace, verdicts=CHECKS.get(id(trace)), **kw)


class MarkdownSnapshot(SingleFileSnapshotExtension):
    """Goldens as plain .md files under tests/__snapshots__/, readable and diffable on GitHub."""

    _write_mode = WriteMode.TEXT
    _file_extension = "md"


@pytest.fixture
def snapshot_md(snapshot):
    return snapshot.use_extension(MarkdownSnapshot)


def trace_of(name: str, *, verified: bool = True):
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    trace = build_trace(sc)
    if verified:
        CHECKS[id(trace)] = verify_trace(trace, torch_reference(sc))
    return trace


BIG = """
name: big
model: {kind: encoder, d_model: 64, n_heads: 8, n_layers: 1, d_ff: 128}
input:
  tokens: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t]
task: {kind: classify, classes: [neg, pos], label: pos}
"""

ODD_LABELS = """
name: odd
model: {kind: decoder, d_model: 4, n_heads: 2, d_ff: 4}
input:
  vocab: ["<pad>", "a|b", "*x*", "`q`", "_u_"]
  tokens: ["a|b", "*x*", "`q`", "_u_"]
task: {kind: next_token}
"""


def md_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def cell_text(inline) -> str:
    return "".join(child.content for child in inline.children or [])


def tables(md: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first), as a markdown parser sees them."""
    out, rows, row = [], None, None
    for tok in md_parser().parse(md):
        if tok.type == "table_open":
            rows = []
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "inline" and row is not None:
            row.append(cell_text(tok))
        elif tok.type == "tr_close":
            rows.append(row)
            row = None
        elif tok.type == "table_close":
            out.append(rows)
    return out


def step_sections(md: str) -> dict[str, str]:
    """Step id → the markdown of that step."""
    parts = re.split(r"^(?=#### Step )", md, flags=re.M)[1:]
    parts[-1] = parts[-1].split("\n## ", 1)[0]
    return {re.search(r"^`([^`]+)`", p, flags=re.M)[1]: p for p in parts}


def expected_cell(x: float, precision: int) -> float:
    return float(f"{x:.{precision}g}")


def assert_cell(cell: str, x: float, precision: int, scale: float = 1.0) -> None:
    """`scale`: the largest magnitude in the cell's table, what round-off is measured against."""
    if math.isinf(x):
        assert cell == ("−∞" if x < 0 else "∞")
    elif abs(x) <= 1e-12 * max(1.0, scale):  # round-off residue, whatever its last bits: one way
        assert cell == "0", (cell, x)
    else:
        assert float(cell) == expected_cell(x, precision), (cell, x)


def check_numbers(trace, md: str, precision: int) -> int:
    """Every table of every step holds exactly the step's arrays at `precision` digits."""
    sections, seen = step_sections(md), 0
    for step in trace.steps:
        found = tables(sections[step.id])
        arrays = []
        for t in [*step.inputs.values(), *step.outputs.values()]:
            v = np.asarray(t.value, dtype=np.float64)
            arrays += list(v) if v.ndim == 3 else [v[None]] if v.ndim == 1 else [v] if v.ndim == 2 else []
        assert len(found) == len(arrays), step.id
        for table, value in zip(found, arrays, strict=True):
            body = [row[1:] for row in table[1:]]
            assert np.shape(body) == value.shape, step.id
            finite = np.abs(value[np.isfinite(value)])
            scale = float(finite.max()) if finite.size else 0.0
            for got_row, want_row in zip(body, value, strict=True):
                for cell, x in zip(got_row, want_row, strict=True):
                    assert_cell(cell, x, precision, scale)
                    seen += 1
    return seen


# --- golden documents ---------------------------------------------------------------------------

def test_golden_mini(snapshot_md):
    assert render(trace_of("mini")) == snapshot_md


def test_golden_pizza_decoder(snapshot_md):
    assert render(trace_of("pizza_decoder")) == snapshot_md


# --- content ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mini", "pizza_decoder"])
def test_every_step_has_title_formula_tables_and_verdict(name):
    trace = trace_of(name)
    md = render(trace)
    sections = step_sections(md)
    assert list(sections) == [s.id for s in trace.steps]
    for n, step in enumerate(trace.steps, 1):
        sec = sections[step.id]
        assert sec.startswith(f"#### Step {n} · ")
        assert math_block(step.formula.latex) in sec
        assert len(tables(sec)) >= 1
        assert re.search(r"\*\*Check:\*\* ✓ agrees with torch(\.autograd)?:", sec)  # torch for values, autograd for gradients
        assert f"| {n} | " in md.split("## Summary", 1)[1]
    assert f"All {len(trace.steps)} verified steps agree" in md


@pytest.mark.parametrize("name", ["mini", "pizza_decoder"])
@pytest.mark.parametrize("precision", [4, 2, 7])
def test_numbers_equal_the_trace_arrays_at_the_chosen_precision(name, precision):
    trace = trace_of(name, verified=False)
    assert check_numbers(trace, render(trace, precision=precision), precision) > 500


def test_minus_infinity_and_round_off_are_written_as_such():
    md = render(trace_of("pizza_decoder"))
    assert "| 0 | −∞ | −∞ |" in md
    assert not re.search(r"\b-?inf\b|\bnan\b", md, flags=re.I)
    # db_K is zero in exact arithmetic; its round-off residue prints as 0, like an exact zero
    db_k = tables(step_sections(md)["bwd.L0.attn.k"])[-2]
    assert db_k[1][1:] == ["0"] * 4


def test_setup_parameters_and_journey():
    md = render(trace_of("mini", verified=False))
    assert md.index("## Setup") < md.index("## Parameters") < md.index("## The dimension journey") \
        < md.index("## Forward pass") < md.index("## Backward pass") < md.index("## Summary")
    assert "| **total** | | **202** | |" in md
    assert ("4·d² + 4·d (attention) + 2·d·d_ff + d_ff + d (FFN) + 4·d (2 LayerNorms) = 4·4² + 4·4 + 2·4·8 "
            "+ 8 + 4 + 4·4 = 64 + 16 + 64 + 8 + 4 + 16 = 172") in md
    journey = md.split("## The dimension journey", 1)[1].split("## Forward pass", 1)[0]
    assert "| | input | `ids` [2] (tokens) |" in journey
    assert "`L` scalar" in journey


@pytest.mark.parametrize("model", [
    ModelConfig(),
    ModelConfig(kind="decoder", norm="pre", final_norm=True, positional="learned", max_len=6),
    ModelConfig(kind="decoder", bias=False, head_bias=False, norm="none", tie_embeddings=True, n_layers=3),
    ModelConfig(d_model=12, n_heads=3, d_ff=5, n_layers=2, head_bias=False),
    ModelConfig(kind="decoder", positional="concat", d_pos=3, d_model=8, n_heads=2),
    ModelConfig(kind="mlp", sizes=(2, 3, 1)),
    ModelConfig(kind="mlp", sizes=(4, 4, 2), bias=False),
])
def test_the_count_formula_agrees_with_the_parameter_list(model):
    task = {"kind": "regress"} if model.kind == "mlp" else \
        {"kind": "next_token"} if model.kind == "decoder" else {"kind": "classify", "classes": ["a", "b", "c"]}
    config = {"model": model.as_dict(), "task": task, "vocab": list("vwxyz"), "tokens": list("vwx")}
    n_out = n_outputs(config)
    total = sum(t.value for _, terms in model_groups(config, n_out) for t in terms)
    assert total == count(param_specs(model, 5, n_out))


# --- rendering ----------------------------------------------------------------------------------

def assert_tables_render(md: str) -> int:
    """Every table in the source renders as <table> with the same column count in every row."""
    delimiters = [line for line in md.splitlines() if DELIMITER.match(line)]
    html = md_parser().render(md)
    assert html.count("<table>") == len(delimiters)
    assert "<p>|" not in html  # a table the parser did not recognise would fall back to text
    parsed = tables(md)
    assert len(parsed) == len(delimiters)
    for rows, delim in zip(parsed, delimiters, strict=True):
        width = delim.count("|") - 1
        assert all(len(r) == width for r in rows), rows[0]
    return len(parsed)


MLP = """
name: tiny-mlp
model: {kind: mlp, sizes: [2, 3, 1], activation: gelu}
input: {features: [1.0, -1.0]}
task: {kind: regress, target: [0.5]}
"""


@pytest.mark.parametrize("text", [BIG, ODD_LABELS, MLP], ids=["big", "odd-labels", "mlp"])
def test_scenario_tables_render(text):
    assert assert_tables_render(render(build_trace(parse_scenario(text)))) > 10


def test_mlp_document():
    md = render(build_trace(parse_scenario(MLP)))
    assert "n0·n1 + n1 (layer 0) + n1·n2 + n2 (layer 1) = 2·3 + 3 + 3·1 + 1 = 6 + 3 + 3 + 1 = 13" in md
    assert "| **total** | | **13** | |" in md and "| 0 | " in md.split("## What the model predicted")[1]


def test_phases_beyond_backward_get_their_own_section():
    trace = trace_of("mini", verified=False)
    w = trace.params["head.b"]
    trace.steps.append(Step(id="upd.head.b", phase="update", stage="optim", title="Update head.b",
                            formula=Formula("w' = w − α g", r"w' = w - \alpha g", "A step downhill."),
                            inputs={"w": Tensor("w", w, cols=["negative", "positive"], key="head.b")},
                            outputs={"w'": Tensor("w'", w - 0.1, cols=["negative", "positive"])}))
    md = render(trace)
    assert md.index("## Backward pass") < md.index("## Training") < md.index("## Summary")
    assert "[Training](#training)" in md
    assert list(step_sections(render(trace, only="update"))) == ["upd.head.b"]


@pytest.mark.parametrize("name", ["mini", "pizza_decoder"])
def test_bundled_tables_render(name):
    assert assert_tables_render(render(trace_of(name))) > 50


def test_odd_labels_survive_as_text():
    md = render(build_trace(parse_scenario(ODD_LABELS)))
    table = tables(step_sections(md)["fwd.embed"])[-1]
    assert [row[0] for row in table[1:]] == ["a|b", "*x*", "`q`"]


def test_huge_matrices_are_elided_with_a_note():
    md = render(build_trace(parse_scenario(BIG)))
    for rows in tables(md):
        if rows[0][0] not in ("parameter", "step", "#", "setting"):  # the listings, not arrays
            assert len(rows[0]) <= MAX_COLS + 1 and len(rows) <= MAX_ROWS + 1
    assert "Showing 7 of 20 rows and 7 of 64 columns; the JSON export" in md
    assert "Showing 7 of 64 rows and 7 of 128 columns" in md  # W_1
    assert "*Heads 4–7 are left out; the JSON export has them.*" in md
    assert "| ⋮ | ⋮ | ⋮ | ⋮ | ⋮ | ⋮ | ⋮ | ⋱ | ⋮ |" in md
    assert len(md) < 1_500_000


# --- options ------------------------------------------------------------------------------------

def test_precision_option():
    trace = trace_of("mini", verified=False)
    q = trace.steps[trace.index_of("fwd.L0.attn.q")].outputs["Q"].value
    for p in (1, 3, 6):
        md = render(trace, precision=p, steps="fwd.L0.attn.q")
        assert f"| I | {q[0, 0]:.{p}g} | {q[0, 1]:.{p}g} |" in md
        assert f"rounded to {p} significant digits" in md
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError):
            render(trace, precision=bad)


def test_only_keeps_one_phase():
    trace = trace_of("mini", verified=False)
    fwd = render(trace, only="forward")
    assert "## Forward pass" in fwd and "## Backward pass" not in fwd
    assert set(step_sections(fwd)) == {s.id for s in trace.steps if s.phase == "forward"}
    bwd = render(trace, only="backward")
    assert set(step_sections(bwd)) == {s.id for s in trace.steps if s.phase == "backward"}
    assert f"#### Step {trace.first_backward() + 1} · " in bwd  # numbers follow the whole trace
    with pytest.raises(ValueError):
        render(trace, only="sideways")


def test_steps_pattern_filters_by_id():
    trace = trace_of("mini", verified=False)
    md = render(trace, steps="*.attn.s*")
    assert list(step_sections(md)) == ["fwd.L0.attn.scores", "fwd.L0.attn.scale", "fwd.L0.attn.softmax",
                                       "bwd.L0.attn.softmax", "bwd.L0.attn.scale", "bwd.L0.attn.scores"]
    summary = md.split("## Summary", 1)[1]
    assert summary.count("`fwd.") + summary.count("`bwd.") == 6
    both = render(trace, only="backward", steps="*.attn.s*")
    assert list(step_sections(both)) == ["bwd.L0.attn.softmax", "bwd.L0.attn.scale", "bwd.L0.attn.scores"]
    assert "*This export keeps 3 of the trace's 44 steps: the backward steps whose id matches `*.attn.s*`." in both
    assert "No step matches the filter `nothing.*`." in render(trace, steps="nothing.*")


# --- verdicts -----------------------------------------------------------------------------------

def test_unverified_steps_say_so():
    trace = trace_of("mini", verified=False)
    md = render(trace)
    assert md.count("**Check:** not verified") == len(trace.steps)
    assert "✓" not in md and "Verification was not run, so no step is confirmed." in md


def test_a_failed_check_is_shown():
    trace = trace_of("mini")
    step = trace.steps[trace.index_of("bwd.L0.attn.q")]
    CHECKS[id(trace)] = {**CHECKS[id(trace)], step.id: Check(reference="torch.autograd", max_abs_err=0.25,
                                                           tolerance=1e-10, ok=False, worst="dW_Q [1, 2]")}
    md = render(trace)
    assert ("**Check:** ✗ **disagrees** with torch.autograd: max abs error 0.25, worst at `dW_Q [1, 2]` "
            "(tolerance 1e-10).") in md
    assert "| 0.25 | ✗ |" in md and f"**1 of {len(trace.steps)} verified steps disagree**" in md


def test_render_is_pure():
    trace = trace_of("pizza_decoder")
    before = {s.id: [t.value.copy() for t in s.outputs.values()] for s in trace.steps}
    assert render(trace) == render(trace)
    for s in trace.steps:
        assert all(np.array_equal(a, t.value) for a, t in zip(before[s.id], s.outputs.values(), strict=True))


# --- docs/examples ------------------------------------------------------------------------------

def test_docs_examples_are_fresh():
    """Fails when docs/examples/ is stale: run `python scripts/gen_examples.py` to regenerate."""
    assert stale_examples(ROOT / "scenarios", ROOT / "docs" / "examples") == []


def test_stale_examples_are_detected(tmp_path):
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "mini.yaml").write_text((ROOT / "scenarios" / "mini.yaml").read_text())
    out = tmp_path / "examples"
    out.mkdir()
    assert stale_examples(scen, out) == ["mini-trace.md: missing (scenario mini.yaml)"]
    (out / "mini-trace.md").write_text(render_example(scen / "mini.yaml") + "x", encoding="utf-8")
    (out / "gone-trace.md").write_text("")
    assert stale_examples(scen, out) == ["mini-trace.md: differs from what `mini.yaml` exports now",
                                         "gone-trace.md: its scenario no longer exists"]


def test_a_what_if_export_says_it_was_edited_and_whose_numbers_the_lessons_quote():
    from stepper.whatif import edit_param

    sc = load_scenario(ROOT / "scenarios" / "mini.yaml")
    original = build_trace(sc)
    edited = build_trace(edit_param(sc, "layers.0.attn.W_Q", (0, 0), 3.0))
    md = render(edited, whatif="W_Q[d0,d0] → 3")  # as the app's export says what the edit was
    assert "**What-if.**" in md and "d0,d0" in md.split("\n## ")[0] and "→ 3" in md.split("\n## ")[0]
    assert md.count("*(written for the original numbers, before the what-if edit)*") == sum(
        1 for s in edited.steps if s.lesson)
    plain = render(original)
    assert "What-if" not in plain and "written for the original numbers" not in plain
    # every kind of block marks its lessons: generation, sampling and training ones too
    for name in ("char_gpt", "momentum_step"):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        edited = build_trace(sc)
        md = render(edited, whatif="an edit")
        assert md.count("> **Lesson.**") == md.count("> **Lesson.** *(written for the original numbers")


def test_a_sentence_that_spells_out_its_vocabulary_keeps_its_axes_apart():
    """sqrt_dk's five tokens are its whole vocabulary, in order: the labels alone cannot tell the two
    apart, so the embedding table's rows stay the vocabulary and everything the sentence makes, tokens."""
    from stepper.scenario import load_scenario

    md = render(build_trace(load_scenario("scenarios/sqrt_dk_scaled.yaml")))
    assert "vocabulary × vocabulary" not in md and "tokens × vocabulary" not in md
    assert "`embed.tok` [5×512] — vocabulary × model dims" in md
    assert "`E` [5×512] (tokens × model dims)" in md and "`ids` [5] (tokens)" in md
    assert "*Input* `M` [5×5] — query tokens × key tokens" in md
