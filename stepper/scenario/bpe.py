"""Byte-pair encoding learned on a scenario's texts, with the Hugging Face `tokenizers` library.

Each word is `▁` + the word (the SentencePiece mark for "a word starts here"), so a piece never crosses a space
and `▁the` reads as "the, at the start of a word" while `the` is the same letters inside one. BPE starts from
the special tokens, `<unk>` and every character, then merges, again and again, the pair of adjacent pieces
seen most often in the training words into one new piece, until the vocabulary has `vocab_size` entries (or no
pair is seen `min_frequency` times). Special tokens written in a text (a seq2seq's `<bos>`) stay whole.

Deterministic: the trainer breaks a tie between equally frequent pairs by the pieces' ids, and here every id
is fixed before training (the characters sorted, the specials first, `▁` an ordinary character) — no order
depends on a hash or on threads (tests/test_tokenize.py runs it under different RAYON_NUM_THREADS).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

WORD_START = "▁"
UNK = "<unk>"


@dataclass(frozen=True)
class LearnedBpe:
    """What was learned, as plain data (a Scenario holds it; the library's objects stay in the loader)."""

    vocab: tuple[str, ...]  # by id: the special tokens, `<unk>`, the characters (sorted), one piece per merge
    merges: tuple[tuple[str, str], ...]  # in the order learned: merge r makes vocab entry `len(vocab) - M + r`
    counts: tuple[int, ...]  # how often each merge's pair stood side by side when it was chosen
    vocab_size: int  # as asked (len(vocab) is less when the pairs ran out first)
    min_frequency: int
    texts: tuple[str, ...]  # what it was learned on

    def as_dict(self) -> dict:
        return {"kind": "bpe", "vocab_size": len(self.vocab), "vocab_size_asked": self.vocab_size,
                "min_frequency": self.min_frequency, "word_start": WORD_START,
                "merges": [{"rank": r + 1, "pair": list(pair), "piece": "".join(pair), "count": count}
                           for r, (pair, count) in enumerate(zip(self.merges, self.counts, strict=True))]}


def segments(text: str, specials: tuple[str, ...]) -> list[str]:
    """The text cut at the special tokens written in it: specials alone, the rest between them."""
    pattern = "(" + "|".join(map(re.escape, (*specials, UNK))) + ")"
    return [s for s in re.split(pattern, text) if s]


def words_of(segment: str) -> list[str]:
    """The words BPE counts and splits: `▁` + each word between spaces."""
    return [WORD_START + w for w in segment.split()]


def training_words(texts: list[str], specials: tuple[str, ...]) -> Counter:
    """Every word of the texts (special tokens aside), with how often it occurs."""
    special = {*specials, UNK}
    return Counter(w for t in texts for s in segments(t, specials) if s not in special for w in words_of(s))


def alphabet(texts: list[str], specials: tuple[str, ...]) -> list[str]:
    """The characters BPE starts from, sorted by code point."""
    return sorted({c for w in training_words(texts, specials) for c in w})


def learn_bpe(texts: list[str], vocab_size: int, min_frequency: int,
              specials: tuple[str, ...]) -> tuple[LearnedBpe, Callable[[str], list[str]]]:
    """(what was learned, a function that splits a text into its pieces)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # only a bpe scenario pays for it

    words = training_words(texts, specials)
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()  # the words are already `▁`-marked
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=[*specials, UNK], show_progress=False)
    tok.train_from_iterator([w for w, n in sorted(words.items()) for _ in range(n)], trainer)
    vocab = tuple(sorted(tok.get_vocab(), key=tok.token_to_id))
    merges = _merges(tok)
    learned = LearnedBpe(vocab=vocab, merges=merges, counts=tuple(replay_counts(words, merges)),
                         vocab_size=vocab_size, min_frequency=min_frequency, texts=tuple(texts))
    special, cache = {*specials, UNK}, {}

    def pieces(text: str) -> list[str]:
        out = []
        for seg in segments(text, specials):
            if seg in special:
                out.append(seg)
                continue
            for w in words_of(seg):
                if w not in cache:
                    cache[w] = tok.encode(w).tokens
                out.extend(cache[w])
        return out

    return learned, pieces


def _merges(tok) -> tuple[tuple[str, str], ...]:
    """The model's merges in rank order (the library writes them as pairs, or as "a b" in older versions)."""
    import json

    merges = json.loads(tok.to_str())["model"]["merges"]
    return tuple(tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges)


def replay_counts(words: Counter, merges) -> list[int]:
    """How often each merge's pair stood side by side when it was made: the merges applied in order to
    the training words, each pair counted (times its word's frequency) just before its merge, at every
    place it stands (`a a` twice in `aaa`, as the trainer counts it), then merged from the left. Only the
    words that hold a merge's pair are split again (`holding`), so a long text replays quickly."""
    split = {w: list(w) for w in words}
    pairs: Counter = Counter()
    holding: dict[tuple[str, str], set[str]] = defaultdict(set)
    for w, symbols in split.items():
        _count(pairs, holding, w, symbols, words[w])
    counts = []
    for a, b in merges:
        counts.append(pairs[(a, b)])
        for w in holding.pop((a, b), ()):
            _count(pairs, None, w, split[w], -words[w])
            split[w] = _merged(split[w], a, b)
            _count(pairs, holding, w, split[w], words[w])
    return counts


def _count(pairs: Counter, holding, w: str, symbols: list[str], n: int) -> None:
    for pair in zip(symbols, symbols[1:], strict=False):
        pairs[pair] += n
        if holding is not None:
            holding[pair].add(w)


def _merged(symbols: list[str], a: str, b: str) -> list[str]:
    i, out = 0, []
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
