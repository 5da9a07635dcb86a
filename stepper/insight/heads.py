"""Where each attention head's weight goes, measured over examples with the given weights.

Each head's attention map is its softmax step's output `A` (`fwd.L{i}.attn.h{h}.softmax`; in a seq2seq
`fwd.enc.L{i}.attn…`, `fwd.dec.L{i}.self…` and `fwd.dec.L{i}.cross…`, see stacks.py) in a forward pass
of each example. Row q of A is how query q spreads one unit of weight over the keys. Over every real
(non-<pad>) query row of every example, a head's shares are the mean weight that goes to:

- "previous": key q − 1 (0 for the first row, which has none);
- "same": key q;  "first": key 0 (row 0's own key counts as both "same" and "first");
- "pad": the <pad> keys (0 whenever the mask hides them, as it does in every bundled scenario);
- "later": keys after q (always 0 in a decoder, whose causal mask hides them);
- and per token string s (`to_token`): the keys holding s.

A cross-attention's rows are the target tokens the decoder reads and its keys the source tokens (the
encoder's output): two sequences, so "previous" and "later" (before and after the query in one
sequence) mean nothing there and are left out. Its "same" is the source token at the query's own
index (key q, 0 when the source is shorter): the diagonal, where a monotone one-to-one alignment
would put its weight; "first" is the first source token, "pad" the source <pad> keys, and `to_token`
counts source tokens.

`to_token_when_seen[s]` is the same mean taken only over the rows that can see a key holding s
(unmasked), so a word that occurs in few examples is judged where it occurs. `by_position[q, k]` is the
mean of A[q, k] over the examples whose row q and key k both hold real tokens (NaN where none does):
where a head looks by position, which for a cross-attention is the alignment of target rows to source
positions. The head's pattern is the largest of its position shares and `to_token` (ties: position
shares in the order above, then tokens in vocabulary order), named only when that share, read without
its round-off, is at least PATTERN_THRESHOLD.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stepper.insight.passes import example_passes, real_rows
from stepper.insight.stacks import Attention, attentions
from stepper.insight.types import PATTERN_THRESHOLD, HeadSummary
from stepper.roundoff import ranked, steady
from stepper.scenario.types import Example, Scenario
from stepper.trace import Step

POSITION_SHARES = ("previous", "same", "first", "pad", "later")
CROSS_SHARES = ("same", "first", "pad")  # a cross-attention's: its rows and keys are two sequences


def position_shares(attention: str) -> tuple[str, ...]:
    """The position shares a head of this attention (HeadSummary.attention) has, in their order."""
    return CROSS_SHARES if attention == "cross" else POSITION_SHARES


def head_summaries(sc: Scenario, params: dict[str, np.ndarray],
                   examples: Sequence[Example] | None = None) -> list[HeadSummary]:
    """Per attention (a seq2seq's encoder, decoder self- and cross-attention, in that order), layer and
    head (layer-major), the summary over `examples` (default: the data set's first MAX_EXAMPLES training
    examples, or the traced example without `data:`). Empty for an mlp."""
    passes = example_passes(sc, params, examples)
    if not passes:
        return []
    order = {t: i for i, t in enumerate(sc.vocab)}
    heads = sc.model.n_heads
    return [_summary(att, i, h, heads, passes, order)
            for att in attentions(sc.model) for i in range(att.stack.layers) for h in range(heads)]


def _summary(att: Attention, layer: int, head: int, heads: int, passes: list[dict[str, Step]],
             order: dict[str, int]) -> HeadSummary:
    at = att.at(layer, head, heads)
    totals = dict.fromkeys(POSITION_SHARES, 0.0)
    to_token: dict[str, float] = {}
    seen_weight: dict[str, float] = {}
    seen_rows: dict[str, int] = {}
    n_rows, maps, labels, key_labels = 0, [], [], []
    for steps in passes:
        a_tensor = steps[f"{at}.softmax"].outputs["A"]
        a = np.asarray(a_tensor.value, dtype=np.float64)
        rows, cols = list(a_tensor.rows), list(a_tensor.cols)  # the same tokens, except in a cross-attention
        visible = np.isfinite(np.asarray(steps[f"{at}.mask"].outputs["S_masked"].value, dtype=np.float64))
        maps.append(a)
        labels.append(rows)
        key_labels.append(cols)
        real, real_key = real_rows(rows), real_rows(cols)
        holds = {s: np.array([tok == s for tok in cols]) & real_key
                 for s in dict.fromkeys(tok for tok, r in zip(cols, real_key, strict=True) if r)}
        for q in np.flatnonzero(real):
            row = a[q]
            totals["previous"] += row[q - 1] if 0 < q <= len(cols) else 0.0
            totals["same"] += row[q] if q < len(cols) else 0.0
            totals["first"] += row[0]
            totals["pad"] += row[~real_key].sum()
            totals["later"] += row[q + 1:].sum()
            n_rows += 1
            for s, on_s in holds.items():
                weight = float(row[on_s].sum())
                to_token[s] = to_token.get(s, 0.0) + weight
                if (visible[q] & on_s).any():
                    seen_weight[s] = seen_weight.get(s, 0.0) + weight
                    seen_rows[s] = seen_rows.get(s, 0) + 1
    n = max(n_rows, 1)
    shares = {name: float(totals[name]) / n for name in position_shares(att.name)}
    by_vocab = sorted(to_token, key=lambda s: order.get(s, len(order)))
    tokens_share = {s: to_token[s] / n for s in by_vocab}
    when_seen = {s: seen_weight[s] / seen_rows[s] for s in by_vocab if seen_rows.get(s)}
    names = [*shares, *by_vocab]
    values = [steady(v) for v in [*shares.values(), *tokens_share.values()]]
    best = ranked(values)[0]
    top, top_share = names[best], values[best]
    return HeadSummary(layer=layer, head=head, shares=shares, to_token=tokens_share,
                       pattern=top if top_share >= PATTERN_THRESHOLD else None, maps=maps, examples=labels,
                       top=top, top_share=top_share, top_is_token=best >= len(shares),
                       to_token_when_seen=when_seen, rows=n_rows, attention=att.name, stack=att.stack.name,
                       keys=key_labels, by_position=_by_position(maps, labels, key_labels))


def _by_position(maps: list[np.ndarray], rows: list[list[str]], cols: list[list[str]]) -> np.ndarray:
    """[longest rows, longest keys]: the mean weight of query position q on key position k over the
    examples where both hold real tokens; NaN where no example has both."""
    total = np.zeros((max(len(r) for r in rows), max(len(c) for c in cols)))
    count = np.zeros_like(total)
    for a, r, c in zip(maps, rows, cols, strict=True):
        both = np.outer(real_rows(r), real_rows(c))
        total[:len(r), :len(c)] += np.where(both, a, 0.0)
        count[:len(r), :len(c)] += both
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
