"""`stepper new NAME --kind K`: a commented starter that loads, passes `stepper check`, and never
overwrites a file unless told to."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stepper import cli
from stepper.commands.new import write_starter
from stepper.scenario import ScenarioError, load_scenario
from stepper.scenario.starter import KINDS, template


@pytest.mark.parametrize("kind", KINDS)
def test_each_starter_loads_with_its_name(kind, tmp_path):
    path = write_starter(f"my-{kind}", kind, tmp_path)
    assert path == tmp_path / f"my-{kind}.yaml"
    sc = load_scenario(path)
    assert sc.name == f"my-{kind}" and sc.model.kind == kind
    if kind == "mlp":
        assert sc.task.kind == "regress" and sc.features and sc.model.sizes[0] == len(sc.features)
    else:
        assert sc.tokens and sc.vocab[0] == "<pad>"
    if kind == "seq2seq":
        assert sc.task.kind == "seq2seq" and sc.source_tokens and sc.tokens[0] == "<bos>"


@pytest.mark.parametrize("kind", KINDS)
def test_each_starter_passes_stepper_check(kind, tmp_path):
    path = write_starter("starter", kind, tmp_path)
    r = subprocess.run([sys.executable, "-m", "stepper", "check", "-q", str(path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all verified" in r.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_starters_explain_themselves(kind):
    text = template(kind)
    comments = [ln for ln in text.splitlines() if "#" in ln]
    assert len(comments) >= 12 and "stepper docs format" in text and "stepper check" in text
    assert "__NAME__" in text


def test_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("my own work\n")
    with pytest.raises(ScenarioError) as err:
        write_starter("mine", "encoder", tmp_path)
    assert "already exists" in str(err.value) and "--force" in str(err.value)
    assert str(err.value).startswith(f"{path}:1:1: error:")
    assert path.read_text() == "my own work\n"
    assert write_starter("mine", "decoder", tmp_path, force=True) == path
    assert load_scenario(path).model.kind == "decoder"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.yaml"]  # no temporary file left behind


@pytest.mark.parametrize("name", ["My Model", "../escape", "a/b", "", "x" * 65, "naïve"])
def test_refuses_a_name_a_scenario_could_not_have(name, tmp_path):
    with pytest.raises(ScenarioError) as err:
        write_starter(name, "encoder", tmp_path)
    assert "may use only a-z, 0-9" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_new_seq2seq(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["new", "translate", "--kind", "seq2seq"]) == 0
    assert load_scenario(tmp_path / "translate.yaml").model.kind == "seq2seq"


def test_cli_new(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["new", "first", "--kind", "decoder"]) == 0
    assert "first.yaml" in capsys.readouterr().out
    assert load_scenario(tmp_path / "first.yaml").model.kind == "decoder"
    assert cli.main(["new", "first"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "Traceback" not in err
    assert cli.main(["new", "first", "--force"]) == 0
    assert load_scenario(tmp_path / "first.yaml").model.kind == "encoder"
