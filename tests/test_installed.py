"""An installed stepper works outside the repository: the wheel is built, installed into a fresh venv,
and run from a folder that has no scenarios/ and no docs/ (issue 22)."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args, cwd, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin folder, a folder outside the repo to run in), with stepper installed from its wheel."""
    root = tmp_path_factory.mktemp("installed")
    assert not root.is_relative_to(REPO)
    try:
        import hatchling  # noqa: F401 - the build backend: present, the wheel builds without a download
        isolation = ["--no-build-isolation"]
    except ImportError:
        isolation = []
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(root / "dist"),
                  str(REPO)], cwd=root)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("stepper-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # stepper's dependencies (torch among them) from this interpreter's packages instead of a reinstall;
    # a plain path line, so the repo's editable stepper there is not put on the path with them
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                 "--no-deps", "--force-reinstall", str(wheel)], cwd=root)
    assert done.returncode == 0, done.stderr
    work = root / "work"
    work.mkdir()
    return venv / "bin", work


def test_the_installed_package_is_the_wheels(installed):
    bin_, work = installed
    out = _run([str(bin_ / "python"), "-c", "import stepper; print(stepper.__file__)"], cwd=work)
    assert Path(out.stdout.strip()).is_relative_to(bin_.parent), out


def test_check_finds_a_bundled_scenario_by_name(installed):
    bin_, work = installed
    out = _run([str(bin_ / "stepper"), "check", "-q", "mini"], cwd=work)
    assert out.returncode == 0, out.stderr
    assert "all verified" in out.stdout and "site-packages/stepper/scenarios/mini.yaml" in out.stdout


def test_list_names_every_bundled_scenario_with_its_title(installed):
    bin_, work = installed
    out = _run([str(bin_ / "stepper"), "list"], cwd=work)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    mini = next(n for n, line in enumerate(lines) if line.startswith("mini "))
    assert '"I am" → positive' in lines[mini] and lines[mini + 1].strip().startswith("The smallest full transformer")
    assert sum(1 for line in lines if line and not line.startswith(" ")) - 1 == len(list(
        (REPO / "scenarios").glob("*.yaml")))


def test_export_writes_the_markdown_of_a_bundled_scenario(installed):
    bin_, work = installed
    out = _run([str(bin_ / "stepper"), "export", "mini", "--format", "md", "-o", "mini.md"], cwd=work)
    assert out.returncode == 0, out.stderr
    text = (work / "mini.md").read_text(encoding="utf-8")
    assert text.startswith("# ") and "softmax" in text and "✓" in text


def test_the_starter_points_to_a_document_that_shipped(installed):
    bin_, work = installed
    made = _run([str(bin_ / "stepper"), "new", "mine"], cwd=work)
    assert made.returncode == 0, made.stderr
    assert "stepper docs format" in (work / "mine.yaml").read_text(encoding="utf-8")
    docs = _run([str(bin_ / "stepper"), "docs", "format"], cwd=work)
    assert docs.returncode == 0 and docs.stdout.startswith("# The scenario format"), docs.stderr
