"""The engine is numpy only, and the commands that need no TUI never load Textual."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

STEPPER = Path(__file__).resolve().parents[1] / "stepper"
PRESENT = STEPPER / "present"


def loaded_after(code: str, *, whole: bool = False) -> set[str]:
    """The top-level packages loaded after `code` runs (`whole`: the full module names)."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split()) if whole else {m.split(".")[0] for m in out.split()}


# the present layer as a whole: every module of it in one process
EVERY_PRESENT_MODULE = ", ".join(f"stepper.present.{m.stem}" for m in sorted(PRESENT.glob("*.py"))
                                 if m.stem != "__init__")


@pytest.mark.parametrize("module", ["stepper.engine", "stepper.scenario", "stepper.trace", EVERY_PRESENT_MODULE,
                                    "stepper.export.json_trace", "stepper.export.markdown", "stepper.verify.fd",
                                    "stepper.verify.verdicts"])
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


def test_the_engine_never_imports_the_present_layer():
    """The engine records numbers; saying them is the present layer's (stepper/present/), downstream of it."""
    mods = loaded_after("from stepper.scenario import load_scenario\nfrom stepper.engine import build_trace\n"
                        "build_trace(load_scenario('scenarios/char_gpt.yaml'))\n"
                        "build_trace(load_scenario('scenarios/momentum_step.yaml'))", whole=True)
    assert not {m for m in mods if m.startswith("stepper.present")}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` names in an import, at its top or inside a function (a lazy import too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", ["export", "tui"])
def test_the_app_and_the_export_never_import_the_commands(package):
    """The commands sit on top: they call the export and start the app, never the other way round."""
    uses = {f"{path.relative_to(STEPPER)}: {name}" for path in sorted((STEPPER / package).rglob("*.py"))
            for name in imported_modules(path)
            if name == "stepper.commands" or name.startswith("stepper.commands.")}
    assert not uses


def test_the_trace_imports_only_numpy_and_the_standard_library():
    """The Trace is the record every layer reads: it depends on none of them."""
    outside = {name for name in imported_modules(STEPPER / "trace.py")
               if name.split(".")[0] not in sys.stdlib_module_names | {"numpy", "__future__"}}
    assert not outside
