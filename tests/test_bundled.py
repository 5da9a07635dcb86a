"""Bundled scenarios are found by name where no file of that name is (stepper/bundled.py), and
`stepper list` / `stepper docs` show what ships with stepper."""

import os
from pathlib import Path

import pytest

from stepper import bundled
from stepper.cli import main
from stepper.commands import library

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("given", ["mini", "mini.yaml"])
def test_a_name_with_no_file_is_the_bundled_scenario(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(bundled.scenario_path(given)) == REPO / "scenarios" / "mini.yaml"


def test_a_file_of_that_name_wins_over_the_bundled_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mini.yaml").write_text("name: mine\n")
    (tmp_path / "mini").mkdir()  # a folder too: the loader refuses it by its own name
    assert bundled.scenario_path("mini.yaml") == "mini.yaml" and bundled.scenario_path("mini") == "mini"


@pytest.mark.parametrize("given", ["scenarios/mini.yaml", "nothing-here", "../mini", "Mini"])
def test_a_path_or_an_unknown_name_is_left_for_the_loader(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert bundled.scenario_path(given) == given


def test_every_command_takes_a_bundled_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "-q", "mini"]) == 0
    assert main(["export", "mini", "--format", "md", "--no-verify", "-o", "out.md"]) == 0
    assert (tmp_path / "out.md").read_text(encoding="utf-8").startswith("# ")
    assert main(["diff", "norm_pre", "norm_post"]) == 0
    assert "scenarios/mini.yaml" in capsys.readouterr().out


def test_an_unknown_name_is_a_located_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "no-such-scenario"]) == 2
    assert capsys.readouterr().err.startswith("no-such-scenario:1:1: error: no such file")


def test_list_shows_each_scenario_its_title_and_what_it_teaches(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("mini "))
    assert lines[n].split(maxsplit=1)[1] == '"I am" → positive: a 2-token, 1-head, 4-dim encoder classifier'
    assert lines[n + 1].strip() == ('The smallest full transformer: "I am" → positive, 2 tokens, 1 head, '
                                    '4 dimensions.')
    assert lines[-1].startswith(f"{len(list((REPO / 'scenarios').glob('*.yaml')))} scenarios.")


def test_list_draws_the_control_characters_of_a_title(tmp_path, monkeypatch, capsys):
    (tmp_path / "evil.yaml").write_text('title: "\\e]0;owned\\a ok"\n', encoding="utf-8")
    (tmp_path / "README.md").write_text("| `evil.yaml` | Teaches \x1b[31mred. More. |  |\n", encoding="utf-8")
    monkeypatch.setattr(library, "shipped", lambda folder: tmp_path)
    monkeypatch.setattr(library, "bundled_scenarios", lambda: [tmp_path / "evil.yaml"])
    assert library.list_scenarios() == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil  ␛]0;owned␇ ok" in out and "Teaches ␛[31mred." in out and "More" not in out


def test_first_sentence_does_not_end_inside_a_number():
    assert library.first_sentence("Variance ≈ 0.94 here, e.g. now. Then more.") == "Variance ≈ 0.94 here, e.g. now."


def test_docs_prints_a_shipped_document(capsys):
    assert main(["docs", "trace-keys"]) == 0
    assert capsys.readouterr().out == (REPO / "docs" / "trace-keys.md").read_text(encoding="utf-8")


def test_every_shipped_document_exists_and_the_wheel_ships_it():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for name in bundled.DOCS.values():
        assert (REPO / "docs" / name).is_file() and f'"docs/{name}" = "stepper/docs/{name}"' in pyproject


def test_a_name_costs_nothing_when_a_file_is_given():
    """`run`'s fork comes before anything it need not wait for: a real path never loads importlib.resources."""
    import subprocess
    import sys

    code = ("import sys; from stepper.bundled import scenario_path; scenario_path('scenarios/mini.yaml'); "
            "print('importlib.resources' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", os.fspath(REPO)
