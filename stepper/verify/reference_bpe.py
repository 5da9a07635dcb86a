"""The reference for `fwd.tokenize`: the merges of a bpe recounted and the traced text re-split, in plain Python.

Nothing here calls the tokenizers library or stepper/scenario/bpe.py; it meets them at docs/trace-keys.md's
definitions. `tok.merge_count`: before merge r (the engine's merges 0 … r − 1 applied to the training words),
the count of the most frequent pair of adjacent pieces — equal to merge r's own count exactly when merge r took
a most frequent pair, whichever of a tie it took. `tok.ids`: each word split into characters, then the pair of
lowest rank merged until none is left (the classic way to apply BPE), a character never seen being `<unk>`.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from stepper.trace_keys import BPE_COUNTS, BPE_IDS, BPE_SOURCE_IDS

MARK, UNK, STAND_IN = "▁", "<unk>", "\ufffd"  # STAND_IN: an `<unk>` of the traced pieces, one unknown character


def bpe_reference(scenario) -> dict[str, np.ndarray]:
    bpe = scenario.bpe
    specials = tuple(scenario.vocab[:scenario.vocab.index(UNK) + 1])
    words = Counter(w for text in bpe.texts for w in _words(text, specials))
    out = {BPE_COUNTS: np.array(_best_counts(words, bpe.merges), dtype=np.float64).reshape(-1, 1),
           BPE_IDS: _resplit(scenario.tokens, scenario.vocab, bpe.merges, specials)}
    if scenario.source_tokens:
        out[BPE_SOURCE_IDS] = _resplit(scenario.source_tokens, scenario.vocab, bpe.merges, specials)
    return out


def _words(text: str, specials: tuple[str, ...]) -> list[str]:
    """`▁` + every whitespace-separated word of the text, the special tokens written in it left out."""
    for special in specials:
        text = text.replace(special, " ")
    return [MARK + w for w in re.findall(r"\S+", text)]


def _best_counts(words: Counter, merges) -> list[int]:
    """Before each merge, the largest count of any pair; the pairs of a word are taken back and counted
    again only when the merge changes it."""
    pieces = {w: tuple(w) for w in words}
    pairs: Counter = Counter()
    for w, p in pieces.items():
        pairs.update({pair: words[w] * k for pair, k in Counter(zip(p, p[1:], strict=False)).items()})
    best = []
    for a, b in merges:
        best.append(max(pairs.values(), default=0))
        for w, p in pieces.items():
            if a + b not in w:  # a word without the letters of a + b cannot hold the pair
                continue
            merged = _merge(p, a, b)
            if merged != p:
                pairs.subtract({pair: words[w] * k for pair, k in Counter(zip(p, p[1:], strict=False)).items()})
                pairs.update({pair: words[w] * k for pair, k in Counter(zip(merged, merged[1:], strict=False)).items()})
                pieces[w] = merged
    return best


def _merge(p: tuple, a: str, b: str) -> tuple:
    out, i = [], 0
    while i < len(p):
        if p[i:i + 2] == (a, b):
            out.append(a + b)
            i += 2
        else:
            out.append(p[i])
            i += 1
    return tuple(out)


def _resplit(tokens: list[str], vocab: list[str], merges, specials: tuple[str, ...]) -> np.ndarray:
    """The text the pieces spell, split again: its ids."""
    rank = {pair: r for r, pair in enumerate(merges)}
    ids, index = [], {t: i for i, t in enumerate(vocab)}
    text = "".join(tokens).replace(UNK, STAND_IN)
    for part in re.split("(" + "|".join(map(re.escape, specials)) + ")", text):
        if part in specials:
            ids.append(index[part])
            continue
        for word in re.findall(r"\S+", part.replace(MARK, " ")):
            p = tuple(c if c in index else UNK for c in MARK + word)
            while len(p) > 1:
                pair = min(zip(p, p[1:], strict=False), key=lambda q: rank.get(q, len(rank)))
                if pair not in rank:
                    break
                p = _merge(p, *pair)
            ids.extend(index[c] for c in p)
    return np.array(ids, dtype=np.float64)
