"""Adversarial files, paths and export targets through the commands: each ends with a clear message and
its documented exit code (README), nothing lost, never a traceback, and no control character of a
file's reaches the terminal (only newlines do).

The commands run in this process (`cli.main`, output captured at the file descriptors, as bytes that
must be UTF-8); the few cases that need a real process (a pipe with no writer, a full disk, a closed
pipe) run one.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hostile import EVERYTHING, FIELDS, PAYLOADS, decoder, encoder

from stepper import cli

ROOT = Path(__file__).resolve().parent.parent
MINI = str(ROOT / "scenarios" / "mini.yaml")
# a process started elsewhere than the checkout must still import this checkout's stepper
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EXITS = {"check": {0, 1, 2}, "export": {0, 2, 3}, "quiz": {0, 2, 3}, "diff": {0, 2, 3}}


def obeyable(text: str) -> list[str]:
    """The characters a terminal would obey rather than show (newline aside)."""
    return sorted({repr(c) for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0
                   or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 or 0xD800 <= ord(c) < 0xE000})


@pytest.fixture
def stepper(capfdbinary, monkeypatch):
    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out, err = capfdbinary.readouterr()
        out, err = out.decode("utf-8"), err.decode("utf-8")  # strict: the output is UTF-8 text
        assert code in EXITS[args[0]], (code, err)
        assert "Traceback" not in err and obeyable(out) == [] and obeyable(err) == [], (out[-300:], err)
        if code == 2:  # one located line
            lines = err.splitlines()
            errors = [ln for ln in lines if ": error: " in ln]
            assert len(errors) == 1 and errors[0] == lines[-1] and " — " in errors[0], err
        return code, out, err
    return run


def hostile_file(tmp_path, field: str, payload: str) -> str:
    path = tmp_path / f"{field}.yaml"
    path.write_text(decoder(payload) if field == "decoder" else encoder(field, payload), encoding="utf-8")
    return str(path)


CASES = [(f, p) for f in (*FIELDS, "decoder") for p in PAYLOADS]


@pytest.mark.parametrize(("field", "payload"), CASES, ids=[f"{f}-{p}" for f, p in CASES])
def test_escapes_in_every_string_field_are_drawn_in_json_quiz_and_diff(tmp_path, stepper, field, payload):
    path = hostile_file(tmp_path, field, PAYLOADS[payload])
    code, out, _ = stepper("export", path, "--format", "json", "--no-verify")
    if code == 0:  # JSON escapes the strings and keeps them: a token is still the file's token
        doc = json.loads(out)
        written = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        assert doc["config"]["tokens"] == written["input"]["tokens"] and doc["title"] == written["title"]
    assert stepper("quiz", path, "--limit", "3")[0] == code
    assert stepper("diff", MINI, path)[0] == code


@pytest.mark.parametrize("field", [*FIELDS, "decoder"])
def test_every_escape_at_once_is_drawn_by_check_and_markdown(tmp_path, stepper, field):
    path = hostile_file(tmp_path, field, EVERYTHING)
    code, out, _ = stepper("check", path)
    assert not any(line.startswith(f"{MINI}: ✓ forged") for line in out.splitlines())
    assert stepper("export", path, "--no-verify")[0] == (0 if code != 2 else 2)
    assert stepper("export", path, "--no-verify", "-o", str(tmp_path / "out.md"))[0] == (0 if code != 2 else 2)
    assert stepper("diff", path, MINI, "--format", "md")[0] == (0 if code != 2 else 2)
    if code != 2:
        assert obeyable((tmp_path / "out.md").read_text(encoding="utf-8").replace("\t", "")) == []


def _make(kind: str, tmp_path: Path) -> str:
    """A path that is no scenario file, by kind."""
    p = tmp_path / "case.yaml"
    if kind == "directory":
        return str(tmp_path)
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(p))  # closed with the test's process; the name is what matters
        _SOCKETS.append(sock)
    elif kind.startswith("/"):
        return kind
    elif kind == "link-to-dev-zero":
        os.symlink("/dev/zero", p)
    elif kind == "dangling-link":
        os.symlink(tmp_path / "nowhere", p)
    elif kind == "looping-link":
        os.symlink(p, p)
    elif kind == "missing":
        pass
    elif kind == "file-as-folder":
        p.write_text(Path(MINI).read_text())
        return str(p / "inner.yaml")
    elif kind == "name-too-long":
        return str(tmp_path / ("x" * 300 + ".yaml"))
    elif kind == "huge":
        with open(p, "wb") as f:
            f.truncate(5 * 2**20)  # sparse: five MiB of NULs that take no disk
    elif kind == "one-byte-over":
        p.write_bytes(b"#" * (4 * 2**20) + b"\n")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "binary":
        p.write_bytes(bytes(range(256)) * 4)
    elif kind == "non-utf8":
        p.write_bytes(b"name: caf\xe9\n")
    elif kind == "utf16":
        p.write_bytes("name: x\n".encode("utf-16"))
    elif kind == "escape-in-missing-name":
        return str(tmp_path / "a\x1b]0;PWNED\x07.yaml")
    elif kind == "newline-in-missing-name":
        return str(tmp_path / "a\nscenarios/mini.yaml: ✓ forged.yaml")
    elif kind == "unreadable":
        p.write_text(Path(MINI).read_text())
        os.chmod(p, 0)
    return str(p)


_SOCKETS: list = []
PATHS = ["directory", "fifo", "socket", "/dev/zero", "/dev/null", "/dev/urandom", "/dev/full",
         "/proc/self/mem", "link-to-dev-zero", "dangling-link", "looping-link", "missing", "file-as-folder",
         "name-too-long", "huge", "one-byte-over", "empty", "binary", "non-utf8", "utf16",
         "escape-in-missing-name", "newline-in-missing-name", "unreadable"]


@pytest.mark.parametrize("command", ["check", "export", "quiz", "diff-a", "diff-b"])
@pytest.mark.parametrize("kind", PATHS)
def test_a_path_that_is_no_scenario_is_one_error_line_and_exit_2(tmp_path, stepper, kind, command):
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file without permissions: /proc/self/mem is the unreadable case that holds as root")
    path = _make(kind, tmp_path)
    args = {"check": ["check", path], "export": ["export", path, "--no-verify"], "quiz": ["quiz", path],
            "diff-a": ["diff", path, MINI], "diff-b": ["diff", MINI, path]}[command]
    code, out, err = stepper(*args)
    assert code == 2 and out == "" and err.count("\n") == 1


def test_check_on_a_folder_with_a_fifo_ends_and_checks_the_rest(tmp_path):
    """`stepper check *.yaml` where one name is a pipe with no writer: a real process, bounded in time."""
    os.mkfifo(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(Path(MINI).read_text())
    r = subprocess.run([sys.executable, "-m", "stepper", "check", "-q", "a.yaml", "b.yaml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 2 and "a.yaml:1:1: error: this is a named pipe (FIFO)" in r.stderr
    assert "b.yaml: 44/44 steps verified" in r.stdout


def _stdout_to(target: str) -> subprocess.CompletedProcess:
    return subprocess.run(f"{sys.executable} -m stepper export {MINI} --no-verify --format json {target}",
                          shell=True, capture_output=True, text=True, timeout=120, env=ENV)


def test_a_full_disk_on_stdout_is_exit_3_and_one_line():
    r = _stdout_to("> /dev/full")
    assert r.returncode == 3 and r.stderr == "stepper: error: cannot write to standard output: No space left on device\n"


def test_a_reader_that_stops_early_is_exit_3_and_one_line():
    r = subprocess.run(f"{sys.executable} -m stepper export {MINI} --no-verify --format json | true; "
                       "echo \"exit=${PIPESTATUS[0]}\"", shell=True, executable="/bin/bash", capture_output=True,
                       text=True, timeout=120, env=ENV)
    assert r.stdout == "exit=3\n" and "broken pipe" in r.stderr and "Traceback" not in r.stderr
