"""Where each attention head's weight goes, measured over examples with the given weights.

Each head's attention map is its softmax step's output `A` (`fwd.L{i}.attn.h{h}.softmax`) in a forward
pass of each example. Row q of A is how query q spreads one unit of weight over the keys. Over every
real (non-<pad>) query row of every example, a head's shares are the mean weight that goes to:

- "previous": key q − 1 (0 for the first row, which has none);
- "same": key q;  "first": key 0 (row 0's own key counts as both "same" and "first");
- "pad": the <pad> keys (0 whenever the mask hides them, as it does in every bundled scenario);
- "later": keys after q (always 0 in a decoder, whose causal mask hides them);
- and per token string s (`to_token`): the keys holding s.

`to_token_when_seen[s]` is the same mean taken only over the rows that can see a key holding s
(unmasked), so a word that occurs in few examples is judged where it occurs. The head's pattern is the
largest of the position shares and `to_token` (ties: position shares in the order above, then tokens
in vocabulary order), named only when that share, read without its round-off, is at least
PATTERN_THRESHOLD.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stepper.insight.passes import example_passes, real_rows
from stepper.insight.types import PATTERN_THRESHOLD, HeadSummary
from stepper.roundoff import ranked, steady
from stepper.scenario.types import Example, Scenario
from stepper.trace import Step

POSITION_SHARES = ("previous", "same", "first", "pad", "later")


def head_summaries(sc: Scenario, params: dict[str, np.ndarray],
                   examples: Sequence[Example] | None = None) -> list[HeadSummary]:
    """Per layer and head (layer-major), the summary over `examples` (default: the data set's first
    MAX_EXAMPLES training examples, or the traced example without `data:`). Empty for an mlp."""
    passes = example_passes(sc, params, examples)
    if not passes:
        return []
    order = {t: i for i, t in enumerate(sc.vocab)}
    heads = sc.model.n_heads
    return [_summary(i, h, heads, passes, order) for i in range(sc.model.n_layers) for h in range(heads)]


def _summary(layer: int, head: int, heads: int, passes: list[dict[str, Step]], order: dict[str, int]) -> HeadSummary:
    # a one-head model's steps carry no head in their ids (fwd.L0.attn.softmax), as the engine writes them
    at = f"fwd.L{layer}.attn" + (f".h{head}" if heads > 1 else "")
    totals = dict.fromkeys(POSITION_SHARES, 0.0)
    to_token: dict[str, float] = {}
    seen_weight: dict[str, float] = {}
    seen_rows: dict[str, int] = {}
    n_rows, maps, labels = 0, [], []
    for steps in passes:
        a_tensor = steps[f"{at}.softmax"].outputs["A"]
        a = np.asarray(a_tensor.value, dtype=np.float64)
        tokens = list(a_tensor.rows)
        visible = np.isfinite(np.asarray(steps[f"{at}.mask"].outputs["S_masked"].value, dtype=np.float64))
        maps.append(a)
        labels.append(tokens)
        real = real_rows(tokens)
        t = len(tokens)
        holds = {s: np.array([tok == s for tok in tokens]) & real for s in dict.fromkeys(tok for tok, r in zip(tokens, real, strict=True) if r)}
        for q in np.flatnonzero(real):
            row = a[q]
            totals["previous"] += row[q - 1] if q > 0 else 0.0
            totals["same"] += row[q]
            totals["first"] += row[0]
            totals["pad"] += row[~real].sum()
            totals["later"] += row[q + 1:t].sum()
            n_rows += 1
            for s, on_s in holds.items():
                weight = float(row[on_s].sum())
                to_token[s] = to_token.get(s, 0.0) + weight
                if (visible[q] & on_s).any():
                    seen_weight[s] = seen_weight.get(s, 0.0) + weight
                    seen_rows[s] = seen_rows.get(s, 0) + 1
    n = max(n_rows, 1)
    shares = {name: float(v) / n for name, v in totals.items()}
    by_vocab = sorted(to_token, key=lambda s: order.get(s, len(order)))
    tokens_share = {s: to_token[s] / n for s in by_vocab}
    when_seen = {s: seen_weight[s] / seen_rows[s] for s in by_vocab if seen_rows.get(s)}
    names = [*POSITION_SHARES, *by_vocab]
    values = [steady(v) for v in [*shares.values(), *tokens_share.values()]]
    best = ranked(values)[0]
    top, top_share = names[best], values[best]
    return HeadSummary(layer=layer, head=head, shares=shares, to_token=tokens_share,
                       pattern=top if top_share >= PATTERN_THRESHOLD else None, maps=maps, examples=labels,
                       top=top, top_share=top_share, top_is_token=best >= len(POSITION_SHARES),
                       to_token_when_seen=when_seen, rows=n_rows)
