"""Reading a file stepper is given (a scenario, the keymap): a regular file, up to a limit, or a reason.

A path can name things that are not documents: a named pipe with no writer blocks `open()` until
one comes (for ever, from the learner's side), /dev/zero and /dev/urandom never end, a socket
cannot be opened at all. Every reader of a learner's file goes through `read_regular`, which
looks before it opens, opens without waiting, looks again at what it opened (the path may have
been swapped in between) and reads one byte past the limit at most. Imports nothing heavy: the
first-frame cache uses it before numpy loads.
"""

from __future__ import annotations

import os
import stat

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class Refused(Exception):
    """Why a file was not read. `kind`: missing, directory, special (not a regular file), large or
    os (any other failure, `str()` says which), so that a caller can add its own hint."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind

    def __reduce__(self):  # crosses the TUI's forked reader like any exception it may carry
        return (type(self), (self.kind, str(self)))


def kind_of_file(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a named pipe (FIFO)"), from its st_mode."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


def _check(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise Refused("directory", "this is a directory")
    if not stat.S_ISREG(mode):
        raise Refused("special", f"this is {kind_of_file(mode)}, not a regular file")


def read_regular(path, *, limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), if there are at most `limit`; else Refused."""
    try:
        _check(os.stat(path).st_mode)
        fd = os.open(path, _FLAGS)
    except Refused:
        raise
    except FileNotFoundError:  # a dangling link too
        raise Refused("missing", "no such file") from None
    except (OSError, ValueError) as exc:  # permissions, a looping link, a name too long, a NUL in it…
        raise Refused("os", getattr(exc, "strerror", None) or str(exc)) from None
    try:
        _check(os.fstat(fd).st_mode)  # what was opened, in case the path changed since the look
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise Refused("os", exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise Refused("large", f"the file is over {_size(limit)}")
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,} bytes"
