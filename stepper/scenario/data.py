"""`data:` — the examples a model trains on (and is validated on), each checked where it is written.

An example is written like `input` (`text` or `tokens`; an mlp's `features`) plus what it should give
(`label` for classify, `target` for regress). The vocab and the classes are only known once every example
is read, so the examples are read in two passes: their form first, then their tokens and labels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stepper.scenario import schema
from stepper.scenario.config import check_label, class_names, task_kind
from stepper.scenario.errors import plural
from stepper.scenario.fields import got, numbers, section, words
from stepper.scenario.inputs import features, tokens_and_vocab
from stepper.scenario.pairs import SPECIALS, check_pair, pair_inputs, side_tokens
from stepper.scenario.tokenize import Tokenizer, tokenizer_for
from stepper.scenario.types import PAD, DataConfig, Example, ModelConfig

if TYPE_CHECKING:
    from stepper.scenario.bpe import LearnedBpe
from stepper.scenario.yamlread import Located

D = ("data",)
OWNER = {"label": "classify", "target": "regress"}  # the task each answer key belongs to


@dataclass(frozen=True)
class Inputs:
    """What the model reads: its vocab, the traced example, and the data set (None without `data:`)."""

    vocab: list[str]
    tokens: list[str]
    features: tuple
    task_raw: dict  # the `task:` section, with the traced example's label or target when it is data's first
    data: DataConfig | None
    source: list[str] = field(default_factory=list)  # seq2seq: the traced example's source (tokens: its target)
    bpe: LearnedBpe | None = None  # `tokenizer: bpe`: what it learned


def model_inputs(doc: Located, model: ModelConfig, input_raw: dict, task_raw: dict, data_raw) -> Inputs:
    tok = tokenizer_for(doc, input_raw, data_raw, SPECIALS if model.kind == "seq2seq" else (PAD,))
    inputs = _model_inputs(doc, model, input_raw, task_raw, data_raw, tok)
    return inputs if tok.bpe is None else dataclasses.replace(inputs, bpe=tok.bpe)


def _model_inputs(doc: Located, model: ModelConfig, input_raw: dict, task_raw: dict, data_raw,
                  tok: Tokenizer) -> Inputs:
    if data_raw is None:
        if model.kind == "mlp":
            return Inputs([], [], features(doc, model, input_raw), task_raw, None)
        if model.kind == "seq2seq":
            vocab, source, target = pair_inputs(doc, model, input_raw, tokenizer=tok)
            return Inputs(vocab, target, (), task_raw, None, source)
        vocab, tokens = tokens_and_vocab(doc, input_raw, tokenizer=tok)
        if model.norm_type == "batch" and len(tokens) - (task_kind(doc, model, task_raw) == "next_token") < 2:
            where = ("input", "tokens") if doc.has(("input", "tokens")) else ("input", "text")
            raise doc.error(where, "the model reads one position, a single row, whose variance BatchNorm cannot "
                                   "estimate — give it two tokens or more, or use `norm_type: layer`")
        return Inputs(vocab, tokens, (), task_raw, None)
    raw = section(doc, D, data_raw, schema.DATA)
    kind = task_kind(doc, model, task_raw)
    train = _read(doc, model, kind, raw["examples"], "examples", tok)
    val = [] if raw["validation"] is None else _read(doc, model, kind, raw["validation"], "validation", tok)
    if kind == "classify":
        classes = class_names(doc, model, task_raw)
        for ex in train + val:
            check_label(doc, (*ex.path, "label"), ex.label, classes, f"the label of {_name(ex)}")
    source: list[str] = []
    if model.kind == "mlp":
        vocab, tokens, feats = [], [], features(doc, model, input_raw, required=False)
        traced = bool(feats)
    elif model.kind == "seq2seq":
        texts = any(doc.has((*ex.path, k)) for ex in train + val for k in ("source_text", "target_text"))
        vocab, source, tokens = pair_inputs(doc, model, input_raw, [(ex.source, ex.tokens) for ex in train + val],
                                            texts, tok)
        for ex in train + val:
            check_pair(doc, model, ex.path, _name(ex), vocab, ex.source, ex.tokens)
        feats, traced = (), bool(tokens)
    else:
        texts = any(doc.has((*ex.path, "text")) for ex in train + val)
        vocab, tokens = tokens_and_vocab(doc, input_raw, [ex.tokens for ex in train + val], texts, tok)
        _check_tokens(doc, model, kind, vocab, train + val)
        feats, traced = (), bool(tokens)
    batch_size = min(raw["batch_size"] or len(train), len(train))  # more than N: one batch of all, as a DataLoader
    _check_padding(doc, input_raw, vocab, train, val, batch_size)
    _check_batchnorm(doc, model, kind, train, batch_size)
    if not traced:
        tokens, feats, task_raw = list(train[0].tokens), train[0].features, _traced_task(doc, kind, task_raw, train[0])
        source = list(train[0].source)
    data = DataConfig(examples=tuple(map(_plain, train)), validation=tuple(map(_plain, val)), batch_size=batch_size,
                      shuffle=raw["shuffle"], seed=raw["seed"])
    return Inputs(vocab, tokens, feats, task_raw, data, source)


@dataclass(frozen=True)
class _Read(Example):
    path: tuple = ()


def _plain(ex: _Read) -> Example:
    return Example(tokens=ex.tokens, source=ex.source, label=ex.label, features=ex.features, target=ex.target,
                   line=ex.line)


def _name(ex: _Read) -> str:
    return f"data.{ex.path[1]}[{ex.path[2]}]"


def _read(doc: Located, model: ModelConfig, kind: str, items, part: str, tokenizer: Tokenizer) -> list[_Read]:
    """Each example's form: a mapping with its input and the answer its task needs."""
    if not items:
        raise doc.error((*D, part), f"`{part}` is empty — give at least one example, e.g. "
                                    f"`{part}: {schema.DATA[part].example}`" + (", or remove it" if part == "validation" else ""))
    return [_example(doc, model, kind, (*D, part, i), item, tokenizer) for i, item in enumerate(items)]


def _example(doc: Located, model: ModelConfig, kind: str, path: tuple, item, tokenizer: Tokenizer) -> _Read:
    name = f"data.{path[1]}[{path[2]}]"
    answer = "label" if kind == "classify" else "target" if kind == "regress" else None
    eg = "{features: [1.0, -1.0], " if model.kind == "mlp" else "{text: I am happy"
    eg += {"label": ", label: positive}", "target": ", target: [0.5]}", None: "}"}[answer]
    if model.kind == "seq2seq":
        eg = "{source_text: I love pizza, target_text: <bos> me gusta la pizza <eos>}"
    if not isinstance(item, dict):
        raise doc.error(path, f"{name} is {got(doc, path, item)}, not a mapping — write each example like "
                              f"`- {eg}`")
    raw = section(doc, path, item, schema.EXAMPLE, model.kind)
    for key, owner in OWNER.items():
        if key == "target" and model.kind == "seq2seq":  # there it is the target sequence, not a regress answer
            continue
        if raw[key] is not None and kind != owner:
            raise doc.error((*path, key), f"{name} has `{key}`, which is for `task.kind: {owner}`, but this task is "
                                          f"`{kind}` — remove `{key}`", key=True)
    if answer is not None and raw[answer] is None:
        raise doc.error(path, f"{name} has no `{answer}` — {kind} needs one per example, e.g. `{eg}`")
    line = doc.where(path)[0]
    if model.kind == "mlp":
        feats, target = _numbers(doc, model, path, name, raw)
        return _Read(label=raw["label"], features=feats, target=target, line=line, path=path)
    if model.kind == "seq2seq":
        source, target = (side_tokens(doc, path, raw, side, tokenizer, name) for side in ("source", "target"))
        for side, tokens in (("source", source), ("target", target)):
            if tokens is None:
                raise doc.error(path, f"{name} has no {side} — give `{side}:` or `{side}_text:`, e.g. `- {eg}`")
        return _Read(tokens=tuple(target), source=tuple(source), line=line, path=path)
    return _Read(tokens=tuple(_tokens(doc, path, name, raw, tokenizer)), label=raw["label"], line=line, path=path)


def _tokens(doc: Located, path: tuple, name: str, raw: dict, tokenizer: Tokenizer) -> list[str]:
    if raw["tokens"] is not None and raw["text"] is not None:
        raise doc.error((*path, "text"), f"{name} gives `tokens:` and `text:` — delete one", key=True)
    if raw["tokens"] is not None:
        tokens = words(doc, (*path, "tokens"), raw["tokens"], "token")
    elif raw["text"] is not None:
        tokens = tokenizer.split(raw["text"])
    else:
        raise doc.error(path, f"{name} has no input — give `text:` (e.g. `text: I am happy`) or `tokens:`")
    if not tokens:
        where = (*path, "tokens") if raw["tokens"] is not None else (*path, "text")
        raise doc.error(where, f"{name} is empty — give it at least one token, or remove the example")
    return tokens


def _numbers(doc: Located, model: ModelConfig, path: tuple, name: str, raw: dict) -> tuple[tuple, tuple]:
    n0, out = model.sizes[0], model.sizes[-1]
    if raw["features"] is None:
        raise doc.error(path, f"{name} has no `features:` — give {plural(n0, 'number')} (sizes[0]), e.g. "
                              "`features: [1.0, -1.0]`")
    if len(raw["features"]) != n0:
        raise doc.error((*path, "features"), f"{name} has {plural(len(raw['features']), 'feature')} but `sizes[0]` "
                                             f"is {n0} — give {n0}, or change `sizes`")
    feats = numbers(doc, (*path, "features"), raw["features"], "a feature number")
    target = raw["target"]
    if target is None:
        return feats, ()
    target = [target] if isinstance(target, float) else target
    if len(target) != out:
        raise doc.error((*path, "target"), f"the target of {name} has {plural(len(target), 'number')} but the mlp "
                                           f"has {plural(out, 'output')} (the last of `sizes`) — give {out}")
    return feats, numbers(doc, (*path, "target"), target, "a target number")


def _check_tokens(doc: Located, model: ModelConfig, kind: str, vocab: list[str], examples: list[_Read]) -> None:
    """Every token in the vocab; a first token that can be attended to; enough tokens; within max_len."""
    known = set(vocab)
    for ex in examples:
        by_text = doc.has((*ex.path, "text"))
        for j, tok in enumerate(ex.tokens):
            if tok not in known:
                where = (*ex.path, "text") if by_text else (*ex.path, "tokens", j)
                raise doc.error(where, f"token `{tok}` of {_name(ex)} is not in the vocab — add it to "
                                       "`input.vocab`, or delete `vocab:` to derive it from the examples")
        where = (*ex.path, "text") if by_text else (*ex.path, "tokens")
        if ex.tokens[0] == PAD:
            raise doc.error(where, f"{_name(ex)} starts with `<pad>`, which nothing may attend to — start it with "
                                   "a real token")
        if kind == "next_token" and len(ex.tokens) < 2:
            raise doc.error(where, f"{_name(ex)} has 1 token, but next-token prediction needs at least 2 (input "
                                   "A… predicts …B) — add a token")
        if kind == "next_token" and all(t == PAD for t in ex.tokens[1:]):
            raise doc.error(where, f"every target token of {_name(ex)} is `<pad>`, which is not scored — add a "
                                   "real token after the first")
        n = len(ex.tokens) - (kind == "next_token")
        if model.positional == "learned" and n > model.max_len:
            raise doc.error(where, f"{_name(ex)} makes the model read {n} tokens but max_len is {model.max_len} — "
                                   f"learned positions have one row per position; set `model.max_len: {n}` or "
                                   "more, or shorten the example")


def _check_padding(doc: Located, input_raw: dict, vocab: list[str], train: list[_Read], val: list[_Read],
                   batch_size: int) -> None:
    """A written vocab must hold `<pad>` when examples of different lengths may share a batch."""
    if PAD in vocab or input_raw["vocab"] is None:
        return
    ragged = [ex for ex in train if _lengths(ex) != _lengths(train[0])] if batch_size > 1 else []
    ragged = ragged or [ex for ex in val if _lengths(ex) != _lengths(val[0])]
    if ragged:
        raise doc.error(("input", "vocab"), f"{_name(ragged[0])} is not as long as the examples it may share a "
                                            "batch with, and batches are right-padded with `<pad>`, which the vocab "
                                            "lacks — add \"<pad>\" to `input.vocab`")


def _check_batchnorm(doc: Located, model: ModelConfig, kind: str, train: list[_Read], batch_size: int) -> None:
    """BatchNorm's running variance divides by n − 1: a training batch needs two rows or more."""
    if model.norm_type != "batch" or min(batch_size, len(train) % batch_size or batch_size) > 1:
        return
    for ex in train:
        if _rows(ex, kind) < 2:
            where = next((p for k in ("text", "tokens", "source", "source_text") if doc.has(p := (*ex.path, k))),
                         ex.path)
            raise doc.error(where, f"{_name(ex)} gives the model one position, and a batch of one example "
                                   "(batch_size 1, or the last batch) then has a single row, whose variance "
                                   "BatchNorm cannot estimate — lengthen it, use a batch_size that leaves no batch of "
                                   "one, or `norm_type: layer`")


def _lengths(ex: _Read) -> tuple[int, int]:
    """What padding evens out: the tokens (a seq2seq's target) and a seq2seq's source."""
    return len(ex.tokens), len(ex.source)


def _rows(ex: _Read, kind: str) -> int:
    """The fewest positions any stack of the model reads of this example."""
    if kind == "seq2seq":
        return min(len(ex.source), len(ex.tokens) - 1)
    return len(ex.tokens) - (kind == "next_token")


def _traced_task(doc: Located, kind: str, task_raw: dict, first: _Read) -> dict:
    """With no `input`, the first example is traced: its label or target stands in for the task's."""
    for key in ("label", "labels", "target"):
        if task_raw[key] is not None:
            raise doc.error(("task", key), f"`task.{key}` belongs to `input`, and there is no `input` (the traced "
                                           "example is data.examples[0], with its own answer) — remove "
                                           f"`task.{key}`, or add `input:`", key=True)
    if kind == "classify":
        return {**task_raw, "label": first.label}
    if kind == "regress":
        return {**task_raw, "target": list(first.target)}
    return task_raw


def updates(data: DataConfig | None, epochs: int) -> int:
    """The updates `epochs` passes take: ⌈N / batch_size⌉ each (one without `data:`, the traced example alone)."""
    return epochs * (1 if data is None else math.ceil(len(data.examples) / data.batch_size))
