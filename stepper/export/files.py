"""Writing exports: whole or not at all, never over an existing file unless asked, never over what is not a file.

The text goes to a temporary file beside the target first, so no reader ever sees half of it.
Without `force` it is then hard-linked to the target's name, which fails if that name exists:
of two exports at once, exactly one writes and the other is told (a look first and a rename
after could both succeed, and one export would be lost). With `force`, the temporary file
replaces the target, which must be a regular file or nothing: a device, a pipe, a directory or a
link to nothing is refused. A link to a regular file is written through, as the shell's `>`
does: the file it points to gets the new text and the link stays. The replaced file keeps its
permissions; a new one gets those the umask allows.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from stepper.readfile import kind_of_file


class ExistsError(Exception):
    """The target exists and overwriting was not asked for."""


class WriteError(OSError):
    """The target cannot be written; the message names it as the user gave it."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "its folder does not exist"
    if isinstance(exc, NotADirectoryError):
        return "a part of the path is a file, not a folder"
    return getattr(exc, "strerror", None) or str(exc)


def _target(path: Path, force: bool) -> tuple[Path, int | None]:
    """(the file to write, the mode to keep or None for a new file), or ExistsError / WriteError."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path, None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {_why(exc)}") from None
    if not force:
        raise ExistsError(f"{path} exists — pass --force to overwrite it")
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            raise WriteError(f"cannot write {path}: it is a link to nothing, and --force replaces only a "
                             "regular file — remove the link or write elsewhere") from None
        real = Path(os.path.realpath(path))
        leads = f"it links to {real}, which is"
    else:
        real, leads = path, "it is"
    if not stat.S_ISREG(st.st_mode):
        raise WriteError(f"cannot write {path}: {leads} {kind_of_file(st.st_mode)}, and --force replaces only a "
                         "regular file — write elsewhere")
    return real, stat.S_IMODE(st.st_mode)


def write_atomic(path: Path, text: str, *, force: bool = False) -> Path:
    """Write `text` to `path` (see the module's docstring); ExistsError or WriteError when it cannot be."""
    given = Path(path)
    target, mode = _target(given, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except (OSError, ValueError) as exc:
        raise WriteError(f"cannot write {given}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if mode is None:  # mkstemp makes the file private (0600); an export is an ordinary document
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        if force:
            os.replace(tmp, target)
        else:
            _link(tmp, target)
    except FileExistsError:
        raise ExistsError(f"{given} exists — pass --force to overwrite it") from None
    except (OSError, UnicodeError) as exc:
        raise WriteError(f"cannot write {given}: {_why(exc)}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return given


def _link(tmp: str, target: Path) -> None:
    """Give the written file its name only if no file has it (FileExistsError otherwise)."""
    try:
        os.link(tmp, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # a file system without hard links: create the name exclusively, then fill it
        with open(target, "x", encoding="utf-8") as out, open(tmp, encoding="utf-8") as src:
            out.write(src.read())


def unique_path(directory: Path, stem: str, suffix: str) -> Path:
    """`stem.suffix`, or `stem-2.suffix`, `stem-3.suffix`… whichever does not exist yet."""
    directory = Path(directory)
    candidate = directory / f"{stem}{suffix}"
    n = 2
    while os.path.lexists(candidate):
        candidate = directory / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def write_unique(directory: Path, stem: str, suffix: str, text: str) -> Path:
    """Write `text` to a fresh file in `directory`, numbering the name if it is taken."""
    for _ in range(1000):
        path = unique_path(directory, stem, suffix)
        try:
            return write_atomic(path, text)
        except ExistsError:  # another writer took the name between the check and the link
            continue
    raise ExistsError(f"could not find a free name for {stem}{suffix} in {directory}")
