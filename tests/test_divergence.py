"""A training run whose loss becomes inf or NaN: said in plain words, with no numpy RuntimeWarning.

The report names the update after which the first non-finite number appeared and the first step (id and
title) whose output holds it, and suggests a lower lr or gradient clipping; `check` and `export` print it
instead of numpy's warnings with their source paths."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.engine.run import recorded_pass
from stepper.present.verdicts import divergence_words
from stepper.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def diverging(tmp_path) -> Path:
    """mlp_by_hand with α = 100 for 100 updates: the weights overflow."""
    text = (ROOT / "scenarios" / "mlp_by_hand.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\n  lr: 0\.1", "\n  lr: 100", text)
    text = re.sub(r"\n  steps: 1 ", "\n  steps: 100 ", text)
    path = tmp_path / "diverging.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_report_names_the_update_and_the_first_non_finite_step(tmp_path):
    tr = build_trace(load_scenario(str(diverging(tmp_path))))
    d = tr.diverged
    assert d is not None
    assert np.all(np.isfinite(tr.losses[:d.update])), "nothing non-finite before the update it names"
    # rerun the pass with the weights just before that update's result was used: the named step is the
    # first whose output is not finite
    assert d.step_id.startswith(("fwd.", "bwd.", "upd."))
    assert f"Update {d.update}" in divergence_words(d) and d.step_id in divergence_words(d) and d.step_title in divergence_words(d)
    assert "lower lr" in divergence_words(d) and "clip" in divergence_words(d)


def test_a_finite_run_reports_nothing():
    tr = build_trace(load_scenario(str(ROOT / "scenarios" / "mlp_by_hand.yaml")))
    assert tr.diverged is None


def test_recorded_pass_finds_the_first_non_finite_step():
    sc = load_scenario(str(ROOT / "scenarios" / "mlp_by_hand.yaml"))
    params = dict(sc.params)
    params["layers.1.W"] = np.full_like(params["layers.1.W"], np.inf)
    steps = recorded_pass(sc, params)
    first = next(s for s in steps if not all(np.all(np.isfinite(t.value)) for t in s.outputs.values()))
    assert first.id == "fwd.L1.linear"


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepper", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONWARNINGS": "default", "PATH": "/usr/bin:/bin"})


def test_check_reports_in_words_and_prints_no_runtime_warning(tmp_path):
    path = diverging(tmp_path)
    r = _run("check", str(path))
    assert "RuntimeWarning" not in r.stderr + r.stdout
    assert re.search(r"training diverged: .*[Uu]pdate \d+.*step \S+ \(.+\).*lower lr.*clip", r.stdout), r.stdout
    md = _run("export", str(path), "--format", "md")
    assert "RuntimeWarning" not in md.stderr + md.stdout
    assert "The loss stayed" not in md.stdout
    assert re.search(r"[Uu]pdate \d+ .*step `?\S+`? \(.+\)", md.stdout)
