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
from stepper.roundoff import ranked, steady

SHARE_WORDS = {"previous": "the previous token", "same": "its own token", "first": "the first token",
               "pad": "<pad>", "later": "later tokens"}
# a cross-attention's keys are the source tokens, and its "same" the source token at the query's index
CROSS_SHARE_WORDS = {"same": "the source token at its own index", "first": "the first source token",
                     "pad": "source <pad>"}
# a seq2seq's attentions by HeadSummary.attention, as headings name them (a one-stack model's has none)
ATTENTION_TITLES = {"encoder": "Encoder self-attention", "decoder self": "Decoder self-attention",
                    "cross": "Cross-attention"}
_SHORT = {"self": "", "encoder": "enc ", "decoder self": "dec ", "cross": "dec "}
_BLOCK = {"decoder self": " self", "cross": " cross"}
THRESHOLD_RULE = (f"A head is given a pattern only when at least {PATTERN_THRESHOLD:g} of its weight, averaged "
                  "over every real (non-<pad>) query row of the examples, goes to one place.")


def as_printed(x: float, precision: int) -> float:
    """The number `table_number` prints, as a float (±∞ and NaN included): what words compare."""
    return float(f"{steady(x):.{precision}g}")


def quoted(tok: str) -> str:
    return f"“{visible_token(tok)}”"


def share_words(attention: str) -> dict[str, str]:
    """Each position share's words for a head of this attention (HeadSummary.attention)."""
    return CROSS_SHARE_WORDS if attention == "cross" else SHARE_WORDS


def where_to(name: str, is_token: bool, attention: str = "self") -> str:
    """A share's name in words: `the previous token`, `the token “great”`, `the source token “car”`."""
    if is_token:
        return f"the {'source ' * (attention == 'cross')}token {quoted(name)}"
    return share_words(attention).get(name, name)


def top_words(s: HeadSummary) -> str:
    """Where the head's largest share goes, in words."""
    return where_to(s.top, s.top_is_token, s.attention)


def head_name(s: HeadSummary) -> str:
    """`head 0 of layer 0`; a seq2seq's `head 0 of encoder layer 0`, `cross-attention head 0 of decoder layer 0`."""
    return attention_head(s.attention, s.head, s.stack, s.layer)


def attention_head(attention: str, head: int, stack: str, layer: int) -> str:
    """A head named by its attention (HeadSummary.attention), its stack ("", "encoder", "decoder") and layer."""
    kind = {"decoder self": "self-attention ", "cross": "cross-attention "}.get(attention, "")
    return f"{kind}head {head} of {stack_layer(stack, layer)}"


def head_label(s: HeadSummary) -> str:
    """The head in short, as lists and map titles show it: `L0 h0`, `enc L0 h0`, `dec L0 cross h0`."""
    return f"{_SHORT[s.attention]}L{s.layer}{_BLOCK.get(s.attention, '')} h{s.head}"


def stack_layer(stack: str, layer: int) -> str:
    """`layer 0`, or in a seq2seq `encoder layer 0` / `decoder layer 0`."""
    return f"{stack} layer {layer}" if stack else f"layer {layer}"


def pattern_words(s: HeadSummary, precision: int) -> str:
    """The head's pattern, or why it has none: `the previous token`, `no single pattern (largest share 0.42)`."""
    if s.pattern is not None:
        return top_words(s)
    return f"no single pattern (largest share {table_number(s.top_share, precision)})"


def head_sentence(s: HeadSummary, precision: int) -> str:
    """One claim per head, straight from its largest share."""
    share, what = table_number(s.top_share, precision), top_words(s)
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
    return (f"Unit {u.unit} of {stack_layer(u.stack, u.layer)} fires most ({table_number(u.peak, precision)}) on {quoted(u.token)}, "
            f"position {u.position} of example {u.example} (“{text}”); its mean over every token is "
            f"{table_number(u.mean, precision)}.")


def compared(before: float, after: float, precision: int) -> tuple[str, str, str]:
    """Both numbers as printed, and `more`, `less` or `as much` from those printed numbers."""
    b, a = as_printed(before, precision), as_printed(after, precision)
    how = "as much" if a == b else "more" if a > b else "less"
    return table_number(before, precision), table_number(after, precision), how


def layer_sentence(layer: int, before: np.ndarray, after: np.ndarray, precision: int, stack: str = "") -> str:
    """How far the layer moves a token's vector, on average over the tokens, before and after training."""
    b, a, how = compared(float(np.mean(before)), float(np.mean(after)), precision)
    change = "as much as" if how == "as much" else f"{how} than"
    return (f"{stack_layer(stack, layer).capitalize()} moves a token's vector by {a} of its length on average after training, "
            f"{change} before ({b}).")


def share_rows(before: HeadSummary, after: HeadSummary, precision: int) -> list[tuple[str, str, str]]:
    """(where, share before training, share after) for each position share, in heads.position_shares' order
    (the heads view's table; the export's has the same numbers in columns)."""
    named = share_words(after.attention)
    return [(named.get(name, name), table_number(before.shares[name], precision),
             table_number(after.shares[name], precision)) for name in after.shares]


def rows_words(s: HeadSummary) -> str:
    n = len(s.examples)
    return f"over {s.rows} real query rows of {n} example{'s' * (n != 1)}"


def alignment_sentence(s: HeadSummary, precision: int) -> str:
    """Where each query row's weight goes by position, averaged over the examples (`by_position`): for each
    row, the key position with the largest mean weight (ties: the first), with that weight."""
    keys = "source position" if s.attention == "cross" else "key position"
    said = []
    for q, row in enumerate(np.asarray(s.by_position, dtype=np.float64)):
        if np.isfinite(row).any():
            k = ranked(row)[0]
            said.append(f"query row {q} puts {table_number(row[k], precision)} on {keys} {k}")
    return ("By position, averaged over the examples with real tokens at both: " + "; ".join(said) + ".") if said else ""
