"""The command line's contract: exit codes 0 / 1 / 2, one located line for a bad scenario, safe writes."""

import json
import subprocess
import sys

import pytest

from stepper import cli
from stepper.engine import build_trace
from stepper.verify import entry

MINI = "scenarios/mini.yaml"


def run(*args):
    return subprocess.run([sys.executable, "-m", "stepper", *args], capture_output=True, text=True)


def test_check_verifies_every_step_and_exits_0():
    r = run("check", MINI)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any("fwd.L0.attn.softmax" in ln and ln.strip().startswith("✓") for ln in lines)
    assert any("bwd.L0.attn.q" in ln for ln in lines)
    assert "44/44 steps verified" in r.stdout and "all verified" in r.stdout


def test_check_with_finite_differences():
    r = run("check", "-q", "--fd", MINI)
    assert r.returncode == 0
    assert "finite differences (central, eps 1e-06): ok" in r.stdout and "(every parameter entry)" in r.stdout


@pytest.mark.parametrize("cores", [1, 2])  # taking turns, and the reference beside the engine
def test_a_disagreeing_value_exits_1(monkeypatch, capsys, cores):
    def broken(scenario):
        trace = build_trace(scenario)
        step = next(s for s in trace.steps if s.id == "bwd.L0.attn.q")
        step.outputs["dW_Q"].value = step.outputs["dW_Q"].value + 1e-6
        return trace

    import torch  # noqa: F401 - side by side only once torch is loaded; this test may run alone

    import stepper.verify.side_by_side as side

    runs, real = [], side.ReferenceRun
    monkeypatch.setattr(side, "ReferenceRun", lambda *a, **k: runs.append(1) or real(*a, **k))
    monkeypatch.setattr(entry, "build_trace", broken)
    monkeypatch.setattr(entry, "usable_cores", lambda: cores)
    assert cli.main(["check", MINI]) == 1
    out = capsys.readouterr().out
    assert "✗ bwd.L0.attn.q" in out and "DISAGREE" in out
    assert len(runs) == (cores > 1)  # the path named is the path taken


def test_an_invalid_scenario_exits_2_with_one_located_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel:\n  kind: encoder\n  d_modle: 4\n")
    r = run("check", str(bad))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{bad}:4:3: error:") and "d_model" in r.stderr


def test_worst_outcome_wins_over_several_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    assert run("check", "-q", MINI, str(bad)).returncode == 2


def test_check_of_several_files_ends_with_one_overall_summary(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    r = run("check", "-q", MINI, "scenarios/xor_linear.yaml", str(bad))
    last = r.stdout.splitlines()[-1]
    assert last.startswith("overall: 3 files"), last
    assert "57 steps agree with torch, 0 disagree" in last and "1 file invalid" in last
    assert "exit 2 (a scenario is invalid)" in last


def test_check_summary_of_a_disagreement_names_the_exit_code(monkeypatch, capsys):
    def broken(scenario):
        trace = build_trace(scenario)
        trace.steps[-1].outputs["dW_tok"].value = trace.steps[-1].outputs["dW_tok"].value + 1e-6
        return trace

    monkeypatch.setattr(entry, "build_trace", broken)
    monkeypatch.setattr(entry, "usable_cores", lambda: 1)
    assert cli.main(["check", "-q", MINI, MINI]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "overall: 2 files, 86 steps agree with torch, 2 disagree — exit 1 (a value disagrees)"


def test_check_of_one_file_ends_with_that_files_own_summary(capsys):
    assert cli.main(["check", "-q", MINI]) == 0
    out = capsys.readouterr().out
    assert "overall" not in out and "all verified" in out.splitlines()[-2]


def test_export_json_follows_the_contract(tmp_path):
    out = tmp_path / "t.json"
    r = run("export", MINI, "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["format"] == "stepper-trace/1" and doc["scenario"] == "mini"
    assert set(doc["params"]) == set(doc["grads"])
    step = next(s for s in doc["steps"] if s["id"] == "fwd.L0.attn.scores")
    assert step["shapes"]["S"] == [2, 2] and step["check"]["ok"] is True
    assert step["check"]["reference"] == "torch.autograd"


def test_export_never_overwrites_without_force(tmp_path):
    out = tmp_path / "t.json"
    out.write_text("keep me")
    r = run("export", MINI, "--format", "json", "--no-verify", "-o", str(out))
    assert r.returncode != 0 and out.read_text() == "keep me" and "--force" in r.stderr
    r = run("export", MINI, "--format", "json", "--no-verify", "-o", str(out), "--force")
    assert r.returncode == 0 and json.loads(out.read_text())["scenario"] == "mini"


def test_minus_inf_is_written_as_a_string_in_json(tmp_path):
    sc = tmp_path / "dec.yaml"
    text = open(MINI).read().replace("kind: encoder", "kind: decoder").replace("kind: classify", "kind: next_token")
    text = text.replace('["I", "am"]', '["I", "am", "happy"]').replace("  pooling: mean\n", "")
    sc.write_text("\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(("classes:", "label:"))))
    r = run("export", str(sc), "--format", "json", "--no-verify")
    doc = json.loads(r.stdout)
    masked = next(s for s in doc["steps"] if s["id"] == "fwd.L0.attn.mask")["outputs"]["S_masked"]
    assert masked[0][1] == "-inf" and isinstance(masked[1][0], float)


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"]])
def test_help_exits_0(argv):
    assert run(*argv).returncode == 0


def test_run_help_is_printed_once_though_the_scenario_reader_has_started():
    r = run("run", "--help")
    assert r.returncode == 0 and r.stdout.count("usage:") == 1 and r.stderr == ""


def test_run_with_a_wrong_flag_is_one_usage_error():
    r = run("run", "--no-such-flag")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "--no-such-flag" in r.stderr


def test_run_with_an_invalid_scenario_prints_the_located_error_and_no_tui(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: {kind: encoder, d_model: 4, n_heads: 3}\n")
    r = run("run", str(bad))
    assert r.returncode == 2 and r.stderr.startswith(f"{bad}:") and r.stdout == ""


def test_a_step_with_nothing_to_compare_is_not_counted_as_verified():
    r = run("check", "scenarios/char_gpt.yaml")
    assert r.returncode == 0
    assert "steps verified against torch.autograd and 1 with nothing to compare" in r.stdout
    assert any(line.strip().startswith("· gen.text") for line in r.stdout.splitlines())


def test_check_keeps_freed_memory_for_reuse_where_glibc_can_be_asked():
    import platform

    from stepper.verify.memory import keep_freed_memory

    # a second call is as good as the first: every entry point may ask
    first, second = keep_freed_memory(), keep_freed_memory()
    assert first is second
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" and sys.maxsize > 2**32:
        assert first  # the machines CI runs on


def test_check_and_export_ask_for_freed_memory_to_be_kept_before_the_work(monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr(entry, "keep_freed_memory", lambda: asked.append(True) or True)
    assert cli.main(["check", "-q", MINI]) == 0 and asked
    asked.clear()
    assert cli.main(["export", MINI, "--format", "json", "-o", str(tmp_path / "t.json")]) == 0 and asked
