"""One call per step: what a block hands the trace, with every array's rows and columns labelled.

A block names its step, its formula, and its inputs and outputs as tensors; a tensor is named by
its own symbol, so `w.td("X", x, key)` says once what used to be said twice (`{"X": td("X", …)}`).
With no Recorder (a training update needs only the numbers) nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from stepper.engine.record import Labels, Recorder, tensor
from stepper.trace import Formula, Tensor
from stepper.trace_keys import EMBED_POS, EMBED_TOK


class StepWriter:
    def __init__(self, rec: Recorder | None, labels: Labels, params: dict[str, np.ndarray],
                 outputs: list[str], title_prefix: str = ""):
        self.rec, self.lab, self.params = rec, labels, params
        self.outputs = outputs  # what the head scores: the vocabulary, or the classes
        self.title_prefix = title_prefix  # where in the model its steps are ("Encoder: "), before each title

    def for_tokens(self, tokens: list[str]) -> StepWriter:
        """A writer into the same trace whose rows are another sequence's tokens (the source of an
        encoder–decoder, read by the decoder's cross-attention as keys and values)."""
        return StepWriter(self.rec, self.lab.with_tokens(tokens), self.params, self.outputs, self.title_prefix)

    def titled(self, prefix: str) -> StepWriter:
        """A writer whose step titles say where they are (`Decoder cross-attention: Scores Q·Kᵀ`)."""
        return StepWriter(self.rec, self.lab, self.params, self.outputs, prefix)

    @property
    def recording(self) -> bool:
        return self.rec is not None

    def step(self, step_id: str, stage: str, title: str, formula: Formula,
             inputs: Iterable[Tensor] | dict[str, Tensor], outputs: Iterable[Tensor] | dict[str, Tensor],
             **where) -> None:
        """Record one step; `where` is its layer, head and bindings (Recorder.add)."""
        if self.rec is not None:
            self.rec.add(step_id, stage, self.title_prefix + title, formula, _named(inputs), _named(outputs), **where)

    def note(self, key: str, words: str) -> None:
        """Add `words` to the title of the latest step that made `key`: what the block that wrote it
        could not know, such as that its output replaces the stream (no residual add follows)."""
        steps = self.rec.steps if self.rec is not None else []
        for i in range(len(steps) - 1, -1, -1):
            if any(t.key == key for t in steps[i].outputs.values()):
                steps[i] = dataclasses.replace(steps[i], title=f"{steps[i].title} {words}")
                return

    # -- labelled tensors ------------------------------------------------------
    def td(self, symbol: str, value: np.ndarray, key: str | None = None, index=()) -> Tensor:
        """A [T, D] array: tokens × model dimensions."""
        return tensor(symbol, value, key, self.lab.tokens, self.lab.dims, index)

    def tf(self, symbol: str, value: np.ndarray, key: str | None = None) -> Tensor:
        """A [T, F] array: tokens × FFN units."""
        return tensor(symbol, value, key, self.lab.tokens, self.lab.ff)

    def dims(self, symbol: str, value: np.ndarray, key: str | None = None) -> Tensor:
        """A [D] vector (γ's gradient, the pooled vector)."""
        return tensor(symbol, value, key, None, self.lab.dims)

    def param(self, symbol: str, name: str) -> Tensor:
        rows, cols = self.param_labels(name, self.params[name])
        return tensor(symbol, self.params[name], name, rows, cols, is_param=True)

    def param_labels(self, name: str, value: np.ndarray) -> tuple[list[str] | None, list[str]]:
        """Rows and columns of parameter `name`, from what its axes mean."""
        lab = self.lab
        rows = (lab.vocab if name == EMBED_TOK
                else [f"p{i}" for i in range(value.shape[0])] if name == EMBED_POS else None)
        if value.ndim == 2 and rows is None:
            rows = lab.ff if value.shape[0] == len(lab.ff) and "W_2" in name else lab.dims
        return (rows if value.ndim == 2 else None), self._cols(value.shape[-1], name)

    def _cols(self, n: int, name: str) -> list[str]:
        if name.startswith("head"):
            return self.outputs
        if n == len(self.lab.ff) and ("W_1" in name or "b_1" in name):
            return self.lab.ff
        if name == EMBED_TOK:  # with concatenated positions its d_tok columns, the first d_tok of X0
            return self.lab.dims[:n]
        return self.lab.dims


def _named(tensors: Iterable[Tensor] | dict[str, Tensor]) -> dict[str, Tensor]:
    """A step's tensors by name: each one's own symbol, unless the block chose another name."""
    if isinstance(tensors, dict):
        return tensors
    return {t.symbol: t for t in tensors}
