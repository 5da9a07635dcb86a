"""The Python API (stepper/api.py, docs/python.md): `stepper.trace(...)` in a notebook or a script."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt

import stepper
from stepper.export.json_trace import render_json
from stepper.export.markdown import render_markdown
from stepper.scenario import ScenarioError, load_scenario
from stepper.verify.entry import checked

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mini():
    return stepper.trace("mini")


def test_the_documented_example_prints_what_the_document_says(tmp_path, monkeypatch):
    fences = [t for t in MarkdownIt().parse((REPO / "docs" / "python.md").read_text(encoding="utf-8"))
              if t.type == "fence"]
    (code,) = [t.content for t in fences if t.info == "python"]
    (printed,) = [t.content for t in fences if t.info == "text"]
    monkeypatch.chdir(tmp_path)  # "mini" is the bundled scenario, wherever the notebook is
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/python.md", "exec"), {"__name__": "__main__"})
    assert out.getvalue() == printed


def test_the_exports_are_the_commands(mini, capsys):
    """No second implementation: the same text as `stepper export`, from the same functions."""
    trace, verdicts = checked(load_scenario(REPO / "scenarios" / "mini.yaml"))
    assert mini.to_json() == render_json(trace, verdicts)
    assert mini.to_markdown(precision=3, only="forward") == render_markdown(trace, verdicts=verdicts, precision=3,
                                                                            only="forward")
    from stepper.cli import main

    assert main(["export", "mini", "--format", "json"]) == 0
    assert capsys.readouterr().out == mini.to_json()


def test_the_trace_and_verdicts_are_kept_as_made(mini):
    assert mini.ok is True and len(mini.verdicts) == len(mini.trace.steps) == len(mini.ids)
    assert mini.step("fwd.L0.attn.softmax").check is mini.verdicts["fwd.L0.attn.softmax"]
    assert mini.step(0).data is mini.trace.steps[0]
    assert mini.step("fwd.L0.attn.softmax").outputs["A"] is mini.trace.steps[8].outputs["A"].value


def test_a_step_shows_as_a_table_in_text_rich_and_html(mini):
    step = mini.step("fwd.L0.attn.softmax")
    text = repr(step)
    assert text.splitlines()[0] == "✓ Softmax over each row   fwd.L0.attn.softmax"
    assert "I  │ 0.489 │ 0.511" in text and "max |ours − torch| < 1e-12" in text
    from rich.console import Console

    console = Console(record=True, file=io.StringIO(), width=80)
    console.print(step)  # rich's protocol: __rich__
    assert "0.590 │ 0.410" in console.export_text()
    html = step._repr_html_()
    assert html.startswith("<pre") and "0.489" in html and "<html" not in html


def test_the_html_escapes_what_a_scenario_says(tmp_path):
    hostile = (REPO / "scenarios" / "mini.yaml").read_text(encoding="utf-8").replace(
        'tokens: ["I", "am"]', 'tokens: ["<b>I</b>", "am\\e[31m"]')
    assert hostile != (REPO / "scenarios" / "mini.yaml").read_text(encoding="utf-8")
    vocab = hostile.replace('vocab: ["<pad>", "I", "am"', 'vocab: ["<pad>", "<b>I</b>", "am\\e[31m"')
    (tmp_path / "hostile.yaml").write_text(vocab, encoding="utf-8")
    step = stepper.trace(tmp_path / "hostile.yaml", verify=False).step("fwd.embed")
    html = step._repr_html_()
    assert "<b>" not in html and "&lt;b&gt;I&lt;/b&gt;" in html and "\x1b" not in html and "␛[31m" in html
    assert "\x1b" not in repr(step)


def test_an_unknown_step_names_the_nearest(mini):
    with pytest.raises(KeyError, match="did you mean fwd.L0.attn.softmax"):
        mini.step("fwd.L0.attn.sofmax")


def test_a_scenario_error_is_the_located_one(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nmodel: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.yaml:\d+:\d+: error: "):
        stepper.trace(tmp_path / "bad.yaml")


def test_unverified_is_said(mini):
    quick = stepper.trace(REPO / "scenarios" / "mini.yaml", verify=False)
    assert quick.ok is None and quick.verdicts is None and "not verified" in repr(quick)
    assert np.array_equal(quick.trace.logits, mini.trace.logits)
    assert json.loads(quick.to_json())["scenario"] == "mini"


def test_the_function_stays_the_function_after_the_submodule_loads():
    code = ("import stepper, stepper.trace; from stepper.trace import Trace; import pickle, importlib; "
            "print(callable(stepper.trace), stepper.trace.__module__, Trace.__module__, "
            "importlib.import_module('stepper.trace').Trace is Trace)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.split() == ["True", "stepper.api", "stepper.trace", "True"]
