"""One forward pass per example with given weights, its steps recorded: what every summary reads.

A summary of the trained model looks at the same steps the learner steps through (each head's
`fwd.L{i}.attn.h{h}.softmax`, each layer's `fwd.L{i}.ffn.act`; a seq2seq's under `fwd.enc.L{i}` and
`fwd.dec.L{i}`, see stacks.py), computed by the engine for one
example at a time, unpadded: so an example's numbers are exactly those of its own traced pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from stepper.scenario.types import PAD, Example, Scenario
from stepper.trace import Step

# the examples a summary reads when none are given: the data set's training examples, at most this
# many (in file order), so a summary costs a few milliseconds and reads the same way for any data set
MAX_EXAMPLES = 24


def default_examples(sc: Scenario) -> list[Example]:
    """The data set's first MAX_EXAMPLES training examples; without `data:`, the traced example alone."""
    if sc.data is not None:
        return list(sc.data.examples[:MAX_EXAMPLES])
    return [Example(tokens=tuple(sc.tokens), source=tuple(sc.source_tokens), label=sc.task.label)]


def example_scenario(sc: Scenario, params: dict[str, np.ndarray], example: Example) -> Scenario:
    """The scenario with `example` as its traced example and `params` as its weights, nothing to train."""
    task = sc.task
    if task.kind == "classify" and example.label is not None:
        task = dataclasses.replace(task, label=example.label, labels=())
    return dataclasses.replace(sc, tokens=list(example.tokens), source_tokens=list(example.source), task=task,
                               params=params, optim=None, data=None, generate=None, lessons={}, quiz=())


def forward_steps(sc: Scenario) -> dict[str, Step]:
    """The forward pass of a transformer scenario (one stack or seq2seq), every step recorded, by step id."""
    from stepper.engine.run import recorded_pass

    return {s.id: s for s in recorded_pass(sc, sc.params, backward=False)}


def example_passes(sc: Scenario, params: dict[str, np.ndarray],
                   examples: Sequence[Example] | None) -> list[dict[str, Step]]:
    """`forward_steps` of each example (default: `default_examples`); none for an mlp (no attention)."""
    if sc.model.kind == "mlp":
        return []
    chosen = default_examples(sc) if examples is None else list(examples)
    return [forward_steps(example_scenario(sc, params, ex)) for ex in chosen]


def sequence_of(example: Example, stack: str) -> tuple[str, ...]:
    """The sequence of `example` that a stack reads, as a sentence quotes it: a seq2seq's encoder reads the
    source, its decoder the target but its last token (teacher forcing: the decoder reads `<bos> casa
    verde` to predict `casa verde <eos>`); a one-stack model (stack "") reads the example's tokens."""
    if stack == "encoder":
        return example.source
    return example.tokens[:-1] if stack == "decoder" else example.tokens


def real_rows(tokens: Sequence[str]) -> np.ndarray:
    """True for each position that holds a real token, False for `<pad>`."""
    return np.array([t != PAD for t in tokens], dtype=bool)
