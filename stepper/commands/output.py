"""What the commands print: drawn, not obeyed, and a reader that goes away is an exit code, not a traceback.

Everything a command prints passes through here, and much of it quotes a file: a scenario's title,
its tokens, its class names, a path. `visible` draws their control characters (see visible.py),
so a file cannot retitle the terminal, write the clipboard or forge a verdict line. An output that
cannot be written (`> /dev/full`, `| head -1`) ends the command with a one-line message and EXIT_IO.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from stepper.commands import EXIT_IO, EXIT_OK
from stepper.visible import visible


class OutputLost(Exception):
    def __init__(self, stream, error: OSError):
        super().__init__(str(error))
        self.stream, self.error = stream, error


class VisibleStream:
    """A text stream whose writes are made visible first; its failures raise OutputLost."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            self.stream.write(visible(text))
        except OSError as exc:
            raise OutputLost(self.stream, exc) from None
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputLost(self.stream, exc) from None

    def __getattr__(self, name):  # isatty, encoding, fileno…: the stream's own
        return getattr(self.stream, name)


def deliver(text: str, output: str | None, force: bool, out=None) -> int:
    """A command's document: to `out` (stdout) with no `--output`, else to that file, created exclusively or,
    with `--force`, replaced atomically (export/files.py); a file that cannot be written is EXIT_IO."""
    if not output:
        (out or sys.stdout).write(text)
        return EXIT_OK
    from stepper.export.files import ExistsError, write_atomic

    try:
        path = write_atomic(output, text, force=force)
    except (ExistsError, OSError) as exc:
        print(f"stepper: error: {exc}", file=sys.stderr)
        return EXIT_IO
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def guarded(command: Callable[[], int]) -> int:
    """`command()`'s exit code, with stdout and stderr made visible; EXIT_IO when an output is lost."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = VisibleStream(out), VisibleStream(err)
    try:
        code = command()
        sys.stdout.flush()
        return code
    except OutputLost as lost:
        _discard(lost.stream)
        name = "standard output" if lost.stream is out else "standard error"
        reason = ("the program reading it stopped (a broken pipe)" if isinstance(lost.error, BrokenPipeError)
                  else lost.error.strerror or str(lost.error))
        if lost.stream is not err:
            try:
                print(f"stepper: error: cannot write to {name}: {reason}", file=err)
            except OSError:  # stderr is gone too: the exit code says it
                pass
        return EXIT_IO
    finally:
        sys.stdout, sys.stderr = out, err


def _discard(stream) -> None:
    """Point a lost stream at /dev/null: Python flushes it once more on the way out, and that write
    would fail again, as an 'Exception ignored' report after the message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's captured stream)
        pass
