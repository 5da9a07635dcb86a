"""The data set cut into batches: which examples each update reads, padded to one rectangle.

An update's batch is a slice of its epoch's order (shuffled per epoch when the scenario says so); a
transformer batch is right-padded with `<pad>` to its longest example, and the pads are remembered so
that attention, pooling and the loss can skip them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stepper.scenario.types import PAD, Example, Scenario


@dataclass(frozen=True)
class Batch:
    """One update's examples as arrays. Transformers fill ids/pad (+ targets or labels); an mlp fills features."""

    ids: np.ndarray | None = None  # [B, T] int: token ids, right-padded with <pad>'s id
    pad: np.ndarray | None = None  # [B, T] bool: True where ids is <pad>
    targets: np.ndarray | None = None  # next_token [B, T] int: the next id per position, -1 where ignored
    labels: np.ndarray | None = None  # classify [B] int: each example's class index
    features: np.ndarray | None = None  # mlp [B, n_in]
    target: np.ndarray | None = None  # mlp regress [B, n_out]
    source: np.ndarray | None = None  # seq2seq [B, T_s] int: the source ids the encoder reads, right-padded
    source_pad: np.ndarray | None = None  # seq2seq [B, T_s] bool: True where source is <pad>

    @property
    def size(self) -> int:
        rows = self.ids if self.ids is not None else self.features
        return int(rows.shape[0])


class BatchMaker:
    """Turns examples into Batches: every example is encoded once, a batch only gathers and pads rows.

    Transformers: next_token splits each example into input tokens[:-1] and targets tokens[1:], then
    right-pads both to the batch's longest input (a target that is `<pad>`, or lies in the padding, is -1:
    ignored by the loss); classify keeps the tokens whole and gives each example's class index. A
    seq2seq's target is split as next_token's (the decoder reads target[:-1]: `ids`), and its source is
    right-padded on its own, to the batch's longest source. An mlp stacks the examples' features, with
    class indices (classify) or target rows (regress)."""

    def __init__(self, sc: Scenario, examples: Sequence[Example]):
        self.mlp = sc.model.kind == "mlp"
        self.classify = sc.task.kind == "classify"
        self.labels = np.array([sc.task.classes.index(e.label) for e in examples], dtype=np.int64) \
            if self.classify else None
        if self.mlp:
            self.features = np.array([e.features for e in examples], dtype=np.float64).reshape(len(examples), -1)
            self.target = None if self.classify else \
                np.array([e.target for e in examples], dtype=np.float64).reshape(len(examples), -1)
            return
        index = {tok: i for i, tok in enumerate(sc.vocab)}
        self.pad_id = index.get(PAD)
        seqs = [np.array([index[tok] for tok in e.tokens], dtype=np.int64) for e in examples]
        self.sources = [np.array([index[tok] for tok in e.source], dtype=np.int64) for e in examples] \
            if sc.model.kind == "seq2seq" else None
        if sc.task.kind in ("next_token", "seq2seq"):
            self.inputs = [s[:-1] for s in seqs]
            self.next = [np.where(s[1:] == self.pad_id, -1, s[1:]) if self.pad_id is not None else s[1:]
                         for s in seqs]
        else:
            self.inputs, self.next = seqs, None

    def batch(self, rows: np.ndarray) -> Batch:
        """The examples at `rows` (indices into the examples given), in that order, as one Batch."""
        labels = None if self.labels is None else self.labels[rows]
        if self.mlp:
            return Batch(features=self.features[rows], labels=labels,
                         target=None if self.target is None else self.target[rows])
        ids, pad = self._padded(self.inputs, rows)
        targets = None
        if self.next is not None:
            targets = np.full(ids.shape, -1, dtype=np.int64)
            for b, r in enumerate(rows):
                targets[b, :len(self.next[r])] = self.next[r]
        if self.sources is None:
            return Batch(ids=ids, pad=pad, targets=targets, labels=labels)
        source, source_pad = self._padded(self.sources, rows)
        return Batch(ids=ids, pad=pad, targets=targets, source=source, source_pad=source_pad)

    def _padded(self, seqs: list[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sequences at `rows` right-padded with <pad> to the longest: (ids [B, T], is-<pad> [B, T])."""
        lengths = [len(seqs[r]) for r in rows]
        width = max(lengths)
        if self.pad_id is None and min(lengths) < width:
            raise ValueError("examples of different lengths need <pad> in the vocab to share a batch")
        ids = np.full((len(rows), width), -1 if self.pad_id is None else self.pad_id, dtype=np.int64)
        for b, (r, n) in enumerate(zip(rows, lengths, strict=True)):
            ids[b, :n] = seqs[r]
        pad = ids == self.pad_id if self.pad_id is not None else np.zeros(ids.shape, dtype=bool)
        return ids, pad


def make_batch(sc: Scenario, examples: Sequence[Example]) -> Batch:
    """All of `examples`, in order, as one Batch."""
    return BatchMaker(sc, examples).batch(np.arange(len(examples)))


def traced_examples(sc: Scenario) -> tuple[Example, ...]:
    """The scenario's own example(s) as a data set: `input` (+ task.label, or a seq2seq's source) for a
    transformer; for an mlp its features, one example or one per row of a batch, with task.label(s) or task.target (rows)."""
    task = sc.task
    if sc.model.kind != "mlp":
        return (Example(tokens=tuple(sc.tokens), source=tuple(sc.source_tokens), label=task.label),)
    if sc.batch is None:
        return (Example(features=tuple(sc.features), label=task.label, target=tuple(task.target)),)
    if task.kind == "classify":
        return tuple(Example(features=row, label=lab) for row, lab in zip(sc.features, task.labels, strict=True))
    return tuple(Example(features=row, target=tuple(tgt)) for row, tgt in zip(sc.features, task.target, strict=True))


def plan(n_examples: int, batch_size: int, shuffle: bool, seed: int, updates: int) -> list[np.ndarray]:
    """The example indices of every update's batch.

    Update t reads batch t mod nb (nb = ⌈N / B⌉) of epoch t // nb. An epoch's order is 0..N−1, or with
    shuffle numpy.random.default_rng(seed + epoch).permutation(N); its batches are consecutive slices of
    that order, the last one smaller when B does not divide N."""
    per_epoch = -(-n_examples // batch_size)
    out: list[np.ndarray] = []
    order = np.arange(n_examples)
    for t in range(updates):
        epoch, j = divmod(t, per_epoch)
        if shuffle and j == 0:
            order = np.random.default_rng(seed + epoch).permutation(n_examples)
        out.append(order[j * batch_size:(j + 1) * batch_size])
    return out
