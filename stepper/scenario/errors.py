"""The one exception a scenario problem may raise, printed as `FILE:LINE:COL: error: …`."""

from __future__ import annotations

import difflib


class ScenarioError(Exception):
    def __init__(self, file: str, line: int, col: int, message: str):
        super().__init__(message)
        self.file, self.line, self.col, self.message = file, line, col, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error: {self.message}"


def did_you_mean(word: str, options) -> str:
    """` — did you mean `model`?` when one option is close, else the list of valid ones."""
    options = sorted(options)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" — did you mean `{close[0]}`?"
    return " — valid keys: " + ", ".join(f"`{o}`" for o in options)
