"""Export targets through the three commands that write one (export -o, quiz --export, diff -o), with and
without --force: exit 0 with the file written, or exit 3 with one line naming the path given, and
whatever was there before left as it was."""

from __future__ import annotations

import io
import os
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from stepper import cli

MINI = str(Path(__file__).resolve().parent.parent / "scenarios" / "mini.yaml")
WRITERS = {"export": lambda out, *f: ["export", MINI, "--no-verify", "-o", out, *f],
           "quiz": lambda out, *f: ["quiz", MINI, "--limit", "1", "--export", out, *f],
           "diff": lambda out, *f: ["diff", MINI, MINI, "-o", out, *f]}


def make(kind: str, tmp: Path) -> tuple[str, object]:
    """(the target path, what must hold afterwards when the write is refused)."""
    p = tmp / "out.md"
    if kind == "new":
        return str(p), None
    if kind == "existing":
        p.write_text("keep me")
    elif kind == "readonly-existing":
        p.write_text("keep me")
        os.chmod(p, 0o444)
    elif kind == "missing-folder":
        return str(tmp / "no" / "out.md"), None
    elif kind == "file-as-folder":
        p.write_text("keep me")
        return str(p / "out.md"), None
    elif kind == "directory":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(p))
        _KEEP.append(sock)
    elif kind == "link-to-dev-null":
        os.symlink("/dev/null", p)
    elif kind == "dangling-link":
        os.symlink(tmp / "nowhere.md", p)
    elif kind == "link-to-file":
        (tmp / "real.md").write_text("keep me")
        os.symlink("real.md", p)
    elif kind == "name-too-long":
        return str(tmp / ("x" * 300 + ".md")), None
    elif kind == "in-proc":
        return "/proc/version", None
    elif kind == "escape-in-name":
        return str(tmp / "o\x1b]0;PWNED\x07.md"), None
    return str(p), kind


_KEEP: list = []
# kind → (exit without --force, exit with --force)
EXPECTED = {"new": (0, 0), "existing": (3, 0), "readonly-existing": (3, 0), "missing-folder": (3, 3),
            "file-as-folder": (3, 3), "directory": (3, 3), "fifo": (3, 3), "socket": (3, 3),
            "link-to-dev-null": (3, 3), "dangling-link": (3, 3), "link-to-file": (3, 0),
            "name-too-long": (3, 3), "in-proc": (3, 3), "escape-in-name": (0, 0)}


@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_target_is_written_or_refused_with_nothing_lost(tmp_path, capfdbinary, monkeypatch, kind, writer,
                                                              force):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    target, before = make(kind, tmp_path)
    snapshot = {n: os.lstat(tmp_path / n) for n in os.listdir(tmp_path)}
    code = cli.main(WRITERS[writer](target, *(["--force"] if force else [])))
    out, err = (s.decode("utf-8") for s in capfdbinary.readouterr())
    assert code == EXPECTED[kind][force], err
    assert "Traceback" not in err and "\x1b" not in out + err and ".tmp" not in err
    if code == 3:
        assert err.count("\n") == 1 and err.startswith("stepper: error: ") and target in err.replace("␛", "\x1b") \
               .replace("␇", "\x07")
        # nothing there before is gone or changed, and no temporary file is left behind
        assert {n: os.lstat(tmp_path / n) for n in os.listdir(tmp_path)}.keys() == snapshot.keys()
        for name, st in snapshot.items():
            now = os.lstat(tmp_path / name)
            assert (now.st_ino, now.st_mode, now.st_size) == (st.st_ino, st.st_mode, st.st_size), name
    else:
        written = Path(os.path.realpath(target))
        assert written.read_text(encoding="utf-8").startswith(("#", "A = "))  # markdown, or the diff's text
        if kind == "link-to-file":
            assert os.path.islink(target)
        if kind == "readonly-existing":
            assert stat.S_IMODE(os.stat(target).st_mode) == 0o444  # the mode it had


def test_two_exports_at_once_one_writes_and_the_other_says_so(tmp_path):
    target = str(tmp_path / "out.md")
    codes, barrier = [], threading.Barrier(2)

    def export(fmt: str) -> None:
        barrier.wait()
        codes.append((fmt, cli.main(["export", MINI, "--no-verify", "--format", fmt, "-o", target])))

    # in one process, each through the same write path; the link step is what decides the race
    threads = [threading.Thread(target=export, args=(f,)) for f in ("md", "json")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c for _, c in codes) == [0, 3]
    winner = next(f for f, c in codes if c == 0)
    assert Path(target).read_text().startswith("#" if winner == "md" else "{")
    assert os.listdir(tmp_path) == ["out.md"]
