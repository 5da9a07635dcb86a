"""`stepper cost FILE [--sweep …] [--format md -o OUT]`: the table, the sweep's crossover, exit codes, safe writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from stepper.scenario import load_scenario
from stepper.scenario.budget import budget
from tests.test_import_hygiene import loaded_after


def run(*args):
    return subprocess.run([sys.executable, "-m", "stepper", "cost", *args], capture_output=True, text=True)


def test_the_table_has_the_model_s_figures_and_separate_attention_and_projection_rows():
    r = run("scenarios/mini.yaml")
    assert r.returncode == 0, r.stderr
    b = budget(load_scenario("scenarios/mini.yaml"))
    assert f"{b.forward_flops:,}" in r.stdout and f"{b.param_bytes:,} B" in r.stdout
    for row in ("scores Q·Kᵀ", "scale, mask, softmax", "weights · V (A·V)", "Q, K, V projections", "FFN (up and down)"):
        assert row in r.stdout
    assert "activations kept for backward" in r.stdout and "optimizer state" in r.stdout


def test_a_sweep_of_t_says_where_attention_overtakes_the_projections():
    r = run("char_gpt", "--sweep", "T=16,64,256,1024")
    assert r.returncode == 0, r.stderr
    for t in (16, 64, 256, 1024):
        assert f"\nT = {t}\n" in r.stdout
    assert "the attention rows cost more from T = 256 on (crossover T ≈ 81)" in r.stdout
    assert "KV cache (K and V per layer, 1024 positions)" in r.stdout


def test_a_sweep_of_d_model_moves_the_crossover_out():
    r = run("mini", "--sweep", "d_model=4,8,64")
    assert r.returncode == 0, r.stderr
    assert "the crossover T is 12, 28, 251" in r.stdout


def test_markdown_goes_to_a_new_file_and_force_replaces_it_keeping_its_mode(tmp_path):
    out = tmp_path / "cost.md"
    assert run("mini", "--format", "md", "-o", str(out)).returncode == 0
    text = out.read_text()
    assert text.startswith("# Cost of") and "| scores Q·Kᵀ | T²·d |" in text
    os.chmod(out, 0o640)
    again = run("mini", "--format", "md", "-o", str(out))
    assert again.returncode == 3 and "exists" in again.stderr
    assert run("mini", "--format", "md", "-o", str(out), "--force").returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_an_invalid_scenario_is_one_located_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  kind: encoder\n  d_model: -3\n")
    r = run(str(bad))
    assert r.returncode == 2 and r.stderr.startswith(f"{bad}:") and "Traceback" not in r.stderr
    assert r.stderr.split(":")[1].isdigit()


def test_a_wrong_sweep_is_a_usage_error():
    for sweep in ("X=3", "T=a,b", "T=0", "d_model=5"):  # char_gpt has 2 heads: 5 does not split
        r = run("char_gpt", "--sweep", sweep)
        assert r.returncode == 2 and r.stderr.startswith("stepper: error: --sweep"), (sweep, r.stderr)
    r = run("xor_gelu", "--sweep", "T=4")
    assert r.returncode == 2 and "an mlp has no sequence length" in r.stderr


def test_cost_loads_neither_textual_nor_torch():
    mods = loaded_after("from stepper.cli import main\nimport contextlib, io\n"
                        "with contextlib.redirect_stdout(io.StringIO()):\n"
                        "    main(['cost', 'scenarios/char_gpt.yaml', '--sweep', 'T=16,64'])")
    assert "textual" not in mods and "torch" not in mods
