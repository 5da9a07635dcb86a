"""`stepper export --format yaml`: the model as a new scenario, every weight explicit, read back exactly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.export.yaml_scenario import render_yaml
from stepper.scenario import load_scenario


@pytest.mark.parametrize("name", ["mini", "pizza_decoder", "xor_gelu", "norm_pre"])
def test_written_scenario_reads_back_with_the_same_weights_and_loss(tmp_path, name):
    sc = load_scenario(f"scenarios/{name}.yaml")
    trace = build_trace(sc)
    out = tmp_path / "model.yaml"
    out.write_text(render_yaml(sc, trace), encoding="utf-8")
    again = load_scenario(str(out))
    weights = trace.trained or trace.params
    assert list(again.params) == list(weights)
    for key, value in weights.items():
        assert np.array_equal(again.params[key], value), key  # float repr round-trips bit for bit
    assert again.optim is None and again.data is None
    if not trace.trained:
        assert build_trace(again).loss == trace.loss


def test_the_command_writes_the_file_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "m.yaml"
    cmd = [sys.executable, "-m", "stepper", "export", "scenarios/mini.yaml", "--format", "yaml", "-o", str(out)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert out.read_text(encoding="utf-8").startswith("name: mini\n")
    assert subprocess.run(cmd, capture_output=True).returncode == 3
