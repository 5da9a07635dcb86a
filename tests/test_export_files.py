"""Writing an export: whole or not at all, never over a file unless asked, never over what is not a file."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from stepper.export.files import ExistsError, WriteError, write_atomic


def test_a_new_file_gets_the_umask_mode_and_no_temporary_file_is_left(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.md", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "a.md").read_text() == "hello"
    assert stat.S_IMODE(os.stat(tmp_path / "a.md").st_mode) == 0o640
    assert os.listdir(tmp_path) == ["a.md"]


def test_force_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    out = tmp_path / "a.md"
    out.write_text("old")
    os.chmod(out, 0o640)
    write_atomic(out, "new", force=True)
    assert out.read_text() == "new" and stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_two_writers_at_once_one_wins_and_the_other_is_told(tmp_path):
    out, said, barrier = tmp_path / "a.md", [], threading.Barrier(8)

    def write(n: int) -> None:
        barrier.wait()
        try:
            write_atomic(out, f"writer {n}")
            said.append(("wrote", n))
        except ExistsError:
            said.append(("exists", n))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for what, n in said if what == "wrote"]
    assert len(winners) == 1 and out.read_text() == f"writer {winners[0]}"
    assert os.listdir(tmp_path) == ["a.md"]


@pytest.mark.parametrize("force", [False, True])
def test_a_device_a_dangling_link_and_a_directory_are_never_replaced(tmp_path, force):
    os.symlink("/dev/null", tmp_path / "dev")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name in ("dev", "dangling", "fifo", "dir"):
        with pytest.raises((ExistsError, WriteError)) as info:
            write_atomic(tmp_path / name, "x", force=force)
        assert str(tmp_path / name) in str(info.value)
    assert os.path.islink(tmp_path / "dev") and os.path.islink(tmp_path / "dangling")
    assert not os.path.exists(tmp_path / "nowhere") and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["dangling", "dev", "dir", "fifo"]


def test_force_through_a_link_to_a_file_writes_that_file_and_keeps_the_link(tmp_path):
    (tmp_path / "real.md").write_text("old")
    os.symlink("real.md", tmp_path / "link.md")
    write_atomic(tmp_path / "link.md", "new", force=True)
    assert os.path.islink(tmp_path / "link.md") and (tmp_path / "real.md").read_text() == "new"


def test_errors_name_the_path_given_never_the_temporary_file(tmp_path):
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "missing" / "a.md", tmp_path / "file" / "a.md", tmp_path / ("x" * 300)):
        with pytest.raises(WriteError) as info:
            write_atomic(target, "x")
        assert str(target) in str(info.value) and ".tmp" not in str(info.value)
