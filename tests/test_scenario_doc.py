"""docs/scenario-format.md stays complete: every schema key, every allowed value, every parameter name,
and a worked example that loads and means what the text says."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepper.engine import build_trace
from stepper.present.worked import worked_line
from stepper.scenario import parse_scenario, schema

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
SECTIONS = {"": schema.TOP, **{f"{name}.": keys for name, keys in schema.SECTIONS.items()}}
KEYS = [(f"{prefix}{key}", spec) for prefix, keys in SECTIONS.items() for key, spec in keys.items()]


def row(name: str) -> str:
    """The doc's table row for a key."""
    found = [ln for ln in DOC.splitlines() if ln.startswith(f"| `{name}` |")]
    assert len(found) == 1, f"docs/scenario-format.md needs one table row for `{name}`"
    return found[0]


@pytest.mark.parametrize("name,spec", KEYS, ids=[k for k, _ in KEYS])
def test_every_key_has_a_row_with_its_allowed_values(name, spec):
    line = row(name)
    for choice in spec.choices:
        assert f"`{choice}`" in line, (name, choice)
    if spec.low is not None:
        low, high = (int(x) if float(x).is_integer() else x for x in (spec.low, spec.high))
        assert f" {low} – {high} " in line or f" {low} – {high}," in line, (name, low, high)
    if spec.required:
        assert "required" in line


def test_every_contract_parameter_name_is_documented_with_its_shape():
    names = ["embed.tok", "embed.pos", "ln_f.gamma", "ln_f.beta", "head.W", "head.b", "layers.{i}.W", "layers.{i}.b"]
    names += [f"layers.{{i}}.attn.{w}_{m}" for w in "Wb" for m in "QKVO"]
    names += [f"layers.{{i}}.ln{n}.{p}" for n in (1, 2) for p in ("gamma", "beta")]
    names += [f"layers.{{i}}.ffn.{w}_{n}" for w in "Wb" for n in (1, 2)]
    for name in names:
        assert f"`{name}`" in DOC, name
    table = DOC.split("## Parameter names and shapes", 1)[1].split("\n## ", 1)[0]
    for shape in ["[V, d_model]", "[max_len, d_model]", "[d_model, d_model]", "[d_model, d_ff]", "[d_ff]",
                  "[d_ff, d_model]", "[d_model, n_out]", "[n_out]", "[sizes[i], sizes[i+1]]"]:
        assert f"`{shape}`" in table, shape


def test_the_worked_example_loads_and_means_what_the_text_says():
    example = DOC.split("## A worked example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    sc = parse_scenario(example, "happy.yaml")
    assert sc.vocab == ["<pad>", "I", "am", "happy"] and sc.tokens == ["I", "am", "happy"]
    assert sc.model.d_k == 2 and sc.task.label == "positive"
    assert sc.params["embed.tok"].shape == (4, 4) and sc.params["head.W"].shape == (4, 2)
    with_lesson = [s.id for s in build_trace(sc).steps if s.lesson]
    assert with_lesson == ["fwd.L0.attn.h0.softmax", "fwd.L0.attn.h1.softmax"]


EXAMPLES = [block.split("```", 1)[0] for block in DOC.split("```yaml\n")[1:]]
SCENARIOS = [b for b in EXAMPLES if b.startswith("name:")]


@pytest.mark.parametrize("text", SCENARIOS, ids=[b.split("\n", 1)[0][6:] for b in SCENARIOS])
def test_every_whole_scenario_in_the_doc_loads(text):
    parse_scenario(text, "doc.yaml")


def test_the_new_sections_examples_mean_what_the_text_says():
    by_name = {b.split("\n", 1)[0][6:]: parse_scenario(b, "doc.yaml") for b in SCENARIOS}
    assert {"xor", "xor-classes", "momentum-by-hand", "continue", "quizzed"} <= set(by_name)
    xor = by_name["xor"]
    assert xor.batch == 4 and xor.task.target == ((0.0,), (1.0,), (1.0,), (0.0,)) and xor.optim.kind == "adam"
    assert by_name["xor-classes"].task.labels == ("same", "different", "different", "same")
    trace = build_trace(by_name["momentum-by-hand"])
    step = next(s for s in trace.steps if s.id == "upd.layers.0.W")
    assert "v = 0.9·0.1 + 0 = 0.09" in worked_line(step) and "= 0.491" in worked_line(step)
    cont = by_name["continue"]
    assert len(cont.tokens) + cont.generate.max_new_tokens - 1 == cont.model.max_len
    quiz = build_trace(by_name["quizzed"])
    pe01 = next(s for s in quiz.steps if s.id == "fwd.pos")
    assert abs(float(next(iter(pe01.outputs.values())).value[0, 1]) - quiz.quiz[0]["answer"]) <= 0.001
    assert quiz.quiz[1]["answer"] == "positive"


def test_the_readme_links_here():
    assert "docs/scenario-format.md" in (ROOT / "README.md").read_text(encoding="utf-8")
