"""The engine is numpy only, and the commands that need no TUI never load Textual."""

import subprocess
import sys

import pytest


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return {m.split(".")[0] for m in out.split()}


@pytest.mark.parametrize("module", ["stepper.engine", "stepper.scenario", "stepper.trace",
                                    "stepper.export.json_trace", "stepper.verify.fd"])
def test_numpy_only_modules_load_neither_torch_nor_textual(module):
    mods = loaded_after(f"import {module}")
    assert "torch" not in mods and "textual" not in mods and "rich" not in mods


def test_engine_runs_without_torch_or_textual():
    mods = loaded_after("from stepper.scenario import load_scenario\nfrom stepper.engine import build_trace\n"
                        "build_trace(load_scenario('scenarios/mini.yaml'))")
    assert "torch" not in mods and "textual" not in mods


def test_cli_check_and_export_never_import_textual():
    mods = loaded_after("from stepper.cli import main\nimport contextlib, io\n"
                        "with contextlib.redirect_stdout(io.StringIO()):\n"
                        "    main(['check', '-q', 'scenarios/mini.yaml'])\n"
                        "    main(['export', 'scenarios/mini.yaml', '--format', 'json', '--no-verify'])")
    assert "textual" not in mods
