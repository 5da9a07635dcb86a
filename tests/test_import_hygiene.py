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
                                    "stepper.verify.verdicts", "stepper.insight", "stepper.insight.types",
                                    "stepper.engine.trainer", "stepper.export.yaml_scenario"])
def test_numpy_only_modules_load_neither_torch_nor_textual(module):
    mods = loaded_after(f"import {module}")
    assert "torch" not in mods and "textual" not in mods and "rich" not in mods


def test_engine_runs_without_torch_or_textual():
    mods = loaded_after("from stepper.scenario import load_scenario\nfrom stepper.engine import build_trace\n"
                        "build_trace(load_scenario('scenarios/mini.yaml'))")
    assert "torch" not in mods and "textual" not in mods


def test_only_a_bpe_scenario_loads_the_tokenizers_library():
    """`tokenizers` (Rust, threads) is for `tokenizer: bpe`: start-up and every other scenario never load it."""
    assert "tokenizers" not in loaded_after("import stepper.cli\nimport stepper.scenario\nimport stepper.engine")
    assert "tokenizers" not in loaded_after("from stepper.scenario import load_scenario\n"
                                            "load_scenario('scenarios/char_gpt.yaml')")
    assert "tokenizers" in loaded_after("from stepper.scenario import load_scenario\n"
                                        "load_scenario('scenarios/tokens_bpe.yaml')")


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


def _stepper_imports(package: str) -> set[str]:
    """`file: module` for every stepper module the files of `package` import (lazily too)."""
    return {f"{path.relative_to(STEPPER)}: {name}" for path in sorted((STEPPER / package).rglob("*.py"))
            for name in imported_modules(path) if name.startswith("stepper.")}


def test_nothing_but_the_cli_and_its_commands_imports_the_app():
    """The app is the top of the stack: the CLI starts it (run, diff --tui); nothing below may reach up to it."""
    users = {path.relative_to(STEPPER).as_posix() for path in STEPPER.rglob("*.py")
             if not path.is_relative_to(STEPPER / "tui")
             and any(n == "stepper.tui" or n.startswith("stepper.tui.") for n in imported_modules(path))}
    assert users <= {"cli.py", "commands/diff.py"}, users


@pytest.mark.parametrize(("package", "forbidden"), [
    ("verify", ("stepper.present", "stepper.export", "stepper.tui", "stepper.commands")),
    ("export", ("stepper.tui", "stepper.commands")),
    ("present", ("stepper.export", "stepper.tui", "stepper.commands", "stepper.verify.entry")),
    ("engine", ("stepper.present", "stepper.verify", "stepper.export", "stepper.tui", "stepper.commands",
                "stepper.insight")),
    # what training did is measured from the engine's numbers; words and views of it come downstream
    ("insight", ("stepper.present", "stepper.verify", "stepper.export", "stepper.tui", "stepper.commands")),
    ("scenario", ("stepper.engine", "stepper.present", "stepper.verify", "stepper.export", "stepper.tui",
                  "stepper.commands")),
])
def test_each_layer_imports_only_the_layers_upstream_of_it(package, forbidden):
    """docs/architecture.md, "Who may import whom": data flows one way, so no layer reaches downstream."""
    assert not {use for use in _stepper_imports(package) if use.split(": ")[1].startswith(forbidden)}


def test_no_module_of_stepper_imports_itself_back_at_import_time():
    """No import cycle among stepper's modules through their top-level imports (a lazy import inside a
    function, e.g. the CLI starting the app, is a call at run time, not a cycle)."""
    modules = {".".join(p.relative_to(STEPPER.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in STEPPER.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        top = [n for n in ast.parse(path.read_text(encoding="utf-8")).body
               if isinstance(n, (ast.Import, ast.ImportFrom))]
        targets = set()
        for node in top:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module, *(f"{node.module}.{a.name}" for a in node.names)] if node.module and not node.level
                else [])
            targets.update(t for t in names if t in modules and t != name)
        graph[name] = targets
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_module_of_stepper_is_over_300_lines():
    """Modules stay small enough to read in one sitting (docs/architecture.md): split by responsibility."""
    long = {path.relative_to(STEPPER).as_posix(): n for path in STEPPER.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long


def test_importing_stepper_is_cheap_and_its_api_never_loads_textual():
    """The CLI imports `stepper` first thing (before `run` forks): the API's imports wait for its first call."""
    assert not {"numpy", "torch", "textual", "rich"} & loaded_after("import stepper")
    mods = loaded_after("import stepper\nt = stepper.trace('scenarios/mini.yaml', verify=False)\n"
                        "t.to_markdown(); t.to_json(); repr(t.step(0)); t.step(0)._repr_html_()")
    assert "textual" not in mods and "torch" not in mods
