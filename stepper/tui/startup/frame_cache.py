"""The first frame of the last start, kept on disk so the next start can paint it before numpy loads.

The launcher's forked reader sends the first frame's text before it builds the trace (reader.py).
Making that text takes numpy, YAML and the engine, about 120 ms, which on a machine with only one
core free comes on top of Textual's own start-up instead of beside it. When the same scenario is
opened again (a learner coming back to it), the reader sends the frame it made last time, read
from here without numpy, and only then does that work, at a lower priority.

An entry is used only if the scenario file's bytes, the command line's options and stepper's own
code are all as they were when it was written; otherwise the frame could show another model. One
entry per scenario path, so the cache never grows past the scenarios a learner has opened.
Importing this module must not load numpy.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys

from stepper.readfile import Refused, read_regular
from stepper.scenario.errors import MAX_BYTES  # the loader refuses a larger file: no frame of it is kept

PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the stepper package


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative, which the XDG rules say to ignore
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "stepper", "frames")


def code_fingerprint() -> str:
    """Every module and stylesheet of the package by size and modification time, and the Python
    that runs them: an edit, an upgrade or another interpreter changes it (a millisecond of stats)."""
    digest = hashlib.sha256(sys.version.encode())
    for folder, subfolders, files in os.walk(PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".tcss")):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()




def entry(path, options) -> tuple[str, str] | None:
    """(the entry's file, the fingerprint it must carry) for this scenario and these options; None
    for anything but a regular file the loader would read (a pipe read here would be empty for it;
    /dev/zero would never end), or one that cannot be read: the reader reports those itself."""
    try:
        content = read_regular(path, limit=MAX_BYTES)
    except Refused:
        return None
    fingerprint = hashlib.sha256(content + repr(options).encode() + code_fingerprint().encode()).hexdigest()
    name = hashlib.sha256(os.path.abspath(str(path)).encode()).hexdigest()[:32] + ".pickle"
    return os.path.join(cache_dir(), name), fingerprint


def read(at: tuple[str, str]) -> dict | None:
    """The frame stored for `at` (see `entry`), or None: nothing stored, or stored for something else."""
    file, fingerprint = at
    try:
        with open(file, "rb") as stored:
            kept, frame = pickle.load(stored)
    except Exception:  # missing, unreadable, or written by another version: just not a hit
        return None
    return frame if kept == fingerprint and isinstance(frame, dict) else None


def write(at: tuple[str, str], frame: dict) -> None:
    """Keep `frame` for the next start; a cache that cannot be written is simply not kept."""
    file, fingerprint = at
    partial = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(partial, "wb") as out:
            pickle.dump((fingerprint, frame), out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, file)  # whole or not at all, even with two starts at once
    except OSError:
        try:
            os.remove(partial)
        except OSError:
            pass
