"""Writing exports: atomically, and never over an existing file unless asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ExistsError(Exception):
    """The target exists and overwriting was not asked for."""


def write_atomic(path: Path, text: str, *, force: bool = False) -> Path:
    """Write via a temp file in the same directory and a rename, so a reader never sees half a file."""
    path = Path(path)
    if path.exists() and not force:
        raise ExistsError(f"{path} exists — pass --force to overwrite it")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file private (0600); an export is an ordinary document
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def unique_path(directory: Path, stem: str, suffix: str) -> Path:
    """`stem.suffix`, or `stem-2.suffix`, `stem-3.suffix`… whichever does not exist yet."""
    directory = Path(directory)
    candidate = directory / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def write_unique(directory: Path, stem: str, suffix: str, text: str) -> Path:
    """Write `text` to a fresh file in `directory`, numbering the name if it is taken."""
    for _ in range(1000):
        path = unique_path(directory, stem, suffix)
        try:
            return write_atomic(path, text)
        except ExistsError:  # another writer took the name between the check and the rename
            continue
    raise ExistsError(f"could not find a free name for {stem}{suffix} in {directory}")
