"""The one exception a scenario problem may raise, printed as `FILE:LINE:COL: error: …`."""

from __future__ import annotations

import difflib

from stepper.visible import visible

# a did-you-mean list longer than this (48 layers of parameter names) helps nobody
_MAX_LISTED = 12
# the largest scenario file read (load.py refuses a larger one: it is no hand-written scenario, and
# PyYAML would take minutes on it); here, in a module that loads nothing, because the first-frame
# cache (tui/startup/frame_cache.py) needs it before numpy is imported
MAX_BYTES = 4 * 2**20


class ScenarioError(Exception):
    def __init__(self, file: str, line: int, col: int, message: str):
        # editors and the corpus test read one line per error: fold any stray newline
        # (from a YAML value quoted in the message, say) into a space; and draw any control character
        # the file's text brings (ESC as ␛, see visible.py): it must reach no terminal as a command
        message = visible(" ".join(str(message).split()), keep="")
        super().__init__(message)
        self.file, self.line, self.col, self.message = visible(str(file), keep=""), int(line), int(col), message

    def __reduce__(self):
        # an exception pickles as `type(*self.args)`, and args holds the message alone: say how
        # to make it again, so an error or a warning crosses the TUI's forked reader (tui/startup/reader.py)
        return (type(self), (self.file, self.line, self.col, self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error: {self.message}"


class ScenarioWarning(ScenarioError):
    """Never raised: a problem that does not stop the scenario (see step_names), kept on the trace and
    printed as `FILE:LINE:COL: warning: …`."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: warning: {self.message}"


def plural(n: int, word: str) -> str:
    """`1 number`, `2 numbers`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def listing(options, *, limit: int = _MAX_LISTED) -> str:
    """`a`, `b`, `c` — or the first `limit` of them and how many more."""
    options = [str(o) for o in options]
    shown = ", ".join(f"`{o}`" for o in options[:limit])
    return shown + (f" … ({len(options) - limit} more)" if len(options) > limit else "")


def did_you_mean(word: str, options, *, what: str = "valid keys") -> str:
    """` — did you mean `model`?` when one option is close, else the list of valid ones."""
    options = sorted(str(o) for o in options)
    # compare lower-cased, so `GELU` finds `gelu`; suggest the option as it is spelled
    lower = {o.lower(): o for o in reversed(options)}
    close = difflib.get_close_matches(str(word).lower(), list(lower), n=1, cutoff=0.6)
    if close:
        return f" — did you mean `{lower[close[0]]}`?"
    return f" — {what}: {listing(options)}"


def show(value, width: int = 40) -> str:
    """A value as it would read in the file, cut short so one message stays one readable line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "nothing"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = f"a list of {len(value)}"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
