"""The one way stepper reads a file it is given: a regular file, at most so many bytes, or a reason why not."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from stepper.readfile import Refused, read_regular


def test_a_regular_file_is_read_whole(tmp_path):
    (tmp_path / "a").write_bytes(b"hello")
    assert read_regular(tmp_path / "a", limit=5) == b"hello"


def test_a_file_one_byte_over_the_limit_is_refused_as_too_large(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 6)
    with pytest.raises(Refused) as info:
        read_regular(tmp_path / "a", limit=5)
    assert info.value.kind == "large"


def test_a_fifo_with_no_writer_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "f")
    done = []
    thread = threading.Thread(target=lambda: done.append(_kind(tmp_path / "f")), daemon=True)
    thread.start()
    thread.join(5)
    assert done == ["special"], "reading a FIFO must not wait for a writer"


def _kind(path) -> str:
    try:
        read_regular(path, limit=10)
    except Refused as exc:
        return exc.kind
    return "read"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused_even_through_a_link(tmp_path, device):
    os.symlink(device, tmp_path / "link")
    assert _kind(device) == "special" and _kind(tmp_path / "link") == "special"


def test_a_socket_a_directory_a_missing_file_and_broken_links(tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s"))
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    try:
        kinds = [_kind(tmp_path / n) for n in ("s", ".", "gone", "dangling", "loop")]
    finally:
        sock.close()
    assert kinds == ["special", "directory", "missing", "missing", "os"]


def test_every_refusal_says_why_in_words(tmp_path):
    os.mkfifo(tmp_path / "f")
    with pytest.raises(Refused) as info:
        read_regular(tmp_path / "f", limit=10)
    assert "named pipe" in str(info.value) and "regular file" in str(info.value)
