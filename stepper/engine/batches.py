"""The data set cut into batches: which examples each update reads, padded to one rectangle.

An update's batch is a slice of its epoch's order (shuffled per epoch when the scenario says so); a
transformer batch is right-padded with `<pad>` to its longest example, and the pads are remembered so
that attention, pooling and the loss can skip them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """One update's examples as arrays. Transformers fill ids/pad (+ targets or labels); an mlp fills features."""

    ids: np.ndarray | None = None  # [B, T] int: token ids, right-padded with <pad>'s id
    pad: np.ndarray | None = None  # [B, T] bool: True where ids is <pad>
    targets: np.ndarray | None = None  # next_token [B, T] int: the next id per position, -1 where ignored
    labels: np.ndarray | None = None  # classify [B] int: each example's class index
    features: np.ndarray | None = None  # mlp [B, n_in]
    target: np.ndarray | None = None  # mlp regress [B, n_out]

    @property
    def size(self) -> int:
        rows = self.ids if self.ids is not None else self.features
        return int(rows.shape[0])
