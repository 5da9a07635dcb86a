"""What the insight summaries say, in words: every claim read off the numbers it quotes.

Shared by the export and the app. A number is printed by `table_number` (read without its
round-off); a comparison ("more", "less") is made between the printed numbers, so the words and the
digits beside them can never disagree, and no word depends on round-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stepper.insight.types import PATTERN_THRESHOLD, HeadSummary, UnitSummary
from stepper.present.labels import visible_token
from stepper.present.numbers import table_number
from stepper.roundoff import steady

SHARE_WORDS = {"previous": "the previous token", "same": "its own token", "first": "the first token",
               "pad": "<pad>", "later": "later tokens"}
THRESHOLD_RULE = (f"A head is given a pattern only when at least {PATTERN_THRESHOLD:g} of its weight, averaged "
                  "over every real (non-<pad>) query row of the examples, goes to one place.")


def as_printed(x: float, precision: int) -> float:
    """The number `table_number` prints, as a float (±∞ and NaN included): what words compare."""
    return float(f"{steady(x):.{precision}g}")


def quoted(tok: str) -> str:
    return f"“{visible_token(tok)}”"


def where_to(name: str, is_token: bool) -> str:
    """A share's name in words: `the previous token`, `the token “great”`."""
    return f"the token {quoted(name)}" if is_token else SHARE_WORDS.get(name, name)


def head_name(s: HeadSummary) -> str:
    return f"head {s.head} of layer {s.layer}"


def pattern_words(s: HeadSummary, precision: int) -> str:
    """The head's pattern, or why it has none: `the previous token`, `no single pattern (largest share 0.42)`."""
    if s.pattern is not None:
        return where_to(s.top, s.top_is_token)
    return f"no single pattern (largest share {table_number(s.top_share, precision)})"


def head_sentence(s: HeadSummary, precision: int) -> str:
    """One claim per head, straight from its largest share."""
    share, what = table_number(s.top_share, precision), where_to(s.top, s.top_is_token)
    if s.pattern is not None:
        return f"{head_name(s).capitalize()} puts {share} of its weight on {what}."
    return (f"{head_name(s).capitalize()} has no single pattern: its largest share, {share} on {what}, is "
            f"below {PATTERN_THRESHOLD:g}.")


def seen_words(s: HeadSummary, precision: int, n: int = 2) -> str:
    """The tokens that draw most of the head's weight where they can be seen: `“long” 0.5666, “film” 0.4051`
    (ties, read as printed: vocabulary order, which `to_token_when_seen` keeps)."""
    ordered = sorted(s.to_token_when_seen.items(), key=lambda tv: -as_printed(tv[1], precision))  # stable
    return ", ".join(f"{quoted(tok)} {table_number(v, precision)}" for tok, v in ordered[:n])


def unit_sentence(u: UnitSummary, example: Sequence[str], precision: int) -> str:
    text = " ".join(visible_token(t) for t in example)
    return (f"Unit {u.unit} of layer {u.layer} fires most ({table_number(u.peak, precision)}) on {quoted(u.token)}, "
            f"position {u.position} of example {u.example} (“{text}”); its mean over every token is "
            f"{table_number(u.mean, precision)}.")


def compared(before: float, after: float, precision: int) -> tuple[str, str, str]:
    """Both numbers as printed, and `more`, `less` or `as much` from those printed numbers."""
    b, a = as_printed(before, precision), as_printed(after, precision)
    how = "as much" if a == b else "more" if a > b else "less"
    return table_number(before, precision), table_number(after, precision), how


def layer_sentence(layer: int, before: np.ndarray, after: np.ndarray, precision: int) -> str:
    """How far the layer moves a token's vector, on average over the tokens, before and after training."""
    b, a, how = compared(float(np.mean(before)), float(np.mean(after)), precision)
    change = "as much as" if how == "as much" else f"{how} than"
    return (f"Layer {layer} moves a token's vector by {a} of its length on average after training, "
            f"{change} before ({b}).")


def share_rows(before: HeadSummary, after: HeadSummary, precision: int) -> list[tuple[str, str, str]]:
    """(where, share before training, share after) for each position share, in POSITION_SHARES' order
    (the heads view's table; the export's has the same numbers in columns)."""
    return [(SHARE_WORDS.get(name, name), table_number(before.shares[name], precision),
             table_number(after.shares[name], precision)) for name in after.shares]


def rows_words(s: HeadSummary) -> str:
    n = len(s.examples)
    return f"over {s.rows} real query rows of {n} example{'s' * (n != 1)}"
