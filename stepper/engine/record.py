"""Recording steps: labels for rows and columns, and the list the Trace is made of."""

from __future__ import annotations

import fnmatch
import re

import numpy as np

from stepper.roundoff import six_digits
from stepper.trace import Formula, Step, Tensor
from stepper.trace_keys import DECODER, ENCODER, SUBLAYER_BLOCKS

PHASES = {"fwd": "forward", "bwd": "backward", "upd": "update", "gen": "generate"}


class Labels:
    """Row and column names for every kind of axis a transformer array can have."""

    def __init__(self, tokens: list[str], vocab: list[str], classes: list[str], d_model: int, d_ff: int,
                 n_heads: int):
        self.tokens = list(tokens)
        self.vocab = list(vocab)
        self.classes = list(classes)
        self.dims = [f"d{j}" for j in range(d_model)]
        self.ff = [f"f{j}" for j in range(d_ff)]
        self.d_k = d_model // max(n_heads, 1)

    def with_tokens(self, tokens: list[str]) -> Labels:
        """The same axes for another sequence (an encoder–decoder's source beside its target)."""
        return Labels(tokens, self.vocab, self.classes, len(self.dims), len(self.ff), len(self.dims) // self.d_k)

    def head_dims(self, h: int) -> list[str]:
        return self.dims[h * self.d_k:(h + 1) * self.d_k]


class Recorder:
    def __init__(self, lessons: dict[str, str] | None = None):
        self.steps: list[Step] = []
        self.lessons = lessons or {}

    def add(self, step_id: str, stage: str, title: str, formula: Formula,
            inputs: dict[str, Tensor], outputs: dict[str, Tensor], *, layer: int | None = None,
            head: int | None = None, bindings: dict[str, str] | None = None, token: int | None = None) -> Step:
        """Record a step. Its id (`gen.3.sample`) is read here, where it is made, and nowhere else:
        the first part is the phase, the last the step's `part`, those between where it is (its stack and block)."""
        prefix, _, _ = step_id.partition(".")
        stack, block = place_of(step_id)
        step = Step(id=step_id, phase=PHASES[prefix], stage=stage, title=title, formula=formula, inputs=inputs,
                    outputs=outputs, layer=layer, head=head, bindings=dict(bindings or {}),
                    lesson=self.lesson_for(step_id), part=step_id.rpartition(".")[2], token=token,
                    stack=stack, block=block)
        self.steps.append(step)
        return step

    def lesson_for(self, step_id: str) -> str | None:
        """The scenario's lesson for this step: an exact id wins over a pattern."""
        if step_id in self.lessons:
            return self.lessons[step_id]
        for pattern, text in self.lessons.items():
            if fnmatch.fnmatchcase(step_id, pattern):
                return text
        return None


_LAYER = re.compile(r"L\d+")
_SUBLAYER_STEP = re.compile(r"(?:res|ln)(\d+)")


def place_of(step_id: str) -> tuple[str, str]:
    """(stack, block) of a step id, whose parts after the phase follow the keys (docs/trace-keys.md):
    `bwd.dec.L0.res2.merge` is in the decoder's cross-attention block, `fwd.enc.embed` in the encoder and
    no block, `fwd.L0.attn.q` in no stack and the attention block."""
    parts = step_id.split(".")[1:]
    stack = parts[0] if parts and parts[0] in (ENCODER, DECODER) else ""
    rest = parts[1:] if stack else parts
    if len(rest) < 2 or not _LAYER.fullmatch(rest[0]):
        return stack, ""
    blocks, part = SUBLAYER_BLOCKS[stack], rest[1]
    n = _SUBLAYER_STEP.fullmatch(part)
    if n:
        k = int(n[1]) - 1
        return stack, blocks[k] if k < len(blocks) else ""
    return stack, blocks[0] if part == "qkv" else part


def tensor(symbol: str, value: np.ndarray, key: str | None = None, rows=None, cols=None, index=(),
           is_param: bool = False) -> Tensor:
    return Tensor(symbol=symbol, value=value, rows=rows, cols=cols, key=key, index=tuple(index),
                  is_param=is_param)


def fmt_num(x: float) -> str:
    """A setting as a step's bindings record it: 6 significant digits, round-off residue as 0
    (roundoff.six_digits, which the worked lines of stepper/present quote alike)."""
    return six_digits(x)
