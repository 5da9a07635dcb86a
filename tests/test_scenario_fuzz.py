"""Mutated scenarios: whatever a learner's edit does to a valid file, the loader answers with a
located ScenarioError or a sound Scenario — never another exception.

Three angles: edits to the parsed structure (drop / rename / retype keys, odd scalars, changed
shapes), edits to the text itself (stray YAML punctuation, tabs, deleted lines), and raw bytes.
"""

from __future__ import annotations

import copy
import json
import re
from unittest import mock

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepper.scenario import ScenarioError, limits, parse_scenario
from stepper.scenario.load import decode
from stepper.scenario.params import n_outputs, param_specs
from stepper.scenario.starter import template

ENCODER = {
    "name": "fuzz", "title": "t",
    "model": {"kind": "encoder", "d_model": 4, "n_heads": 2, "n_layers": 1, "d_ff": 8, "activation": "gelu",
              "norm": "post", "positional": "learned", "max_len": 4, "pooling": "mean", "final_norm": True},
    "input": {"vocab": ["<pad>", "I", "am", "happy"], "tokens": ["I", "am", "happy"]},
    "task": {"kind": "classify", "classes": ["neg", "pos"], "label": "pos"},
    "weights": {"seed": 3, "init": {"std": 0.5, "bias_std": 0.1},
                "values": {"layers.0.ln1.gamma": [1.0, 1.0, 1.0, 1.0],
                           "head.W": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]}},
    "lessons": {"fwd.embed": "rows are tokens"},
}
DECODER = {
    "name": "fuzz-dec",
    "model": {"kind": "decoder", "d_model": 4, "n_heads": 1, "d_ff": 4, "norm": "pre", "tie_embeddings": True,
              "positional": "learned", "max_len": 6},
    "input": {"text": "a b a c", "tokenizer": "word"},
    "task": {"kind": "next_token"},
    "generate": {"max_new_tokens": 3, "temperature": 0.7, "top_k": 2, "top_p": 0.9, "seed": 1, "greedy": False},
    "quiz": [{"step": "gen.1.sample", "ask": "Which token?", "answer": "a"},
             {"step": "fwd.loss", "ask": "The loss?", "answer": 1.5, "tolerance": 0.5, "why": "ln 4 ≈ 1.39"}],
}
MLP = {
    "name": "fuzz-mlp",
    "model": {"kind": "mlp", "sizes": [2, 3, 1], "activation": "relu"},
    "input": {"features": [1.0, -1.0]},
    "task": {"kind": "regress", "target": [0.5]},
    "weights": {"values": {"layers.0.W": [[0.5, -0.5, 0.1], [0.25, 1.0, 0.0]]}},
    "optim": {"kind": "momentum", "lr": 0.1, "momentum": 0.9, "steps": 2,
              "velocity": {"layers.0.W": [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]], "layers.1.b": [0.2]}},
}
BATCH = {
    "name": "fuzz-batch",
    "model": {"kind": "mlp", "sizes": [2, 2, 2], "activation": "gelu"},
    "input": {"features": [[0, 0], [0, 1], [1, 0], [1, 1]]},
    "task": {"kind": "classify", "classes": ["same", "diff"], "labels": ["same", "diff", "diff", "same"]},
    "optim": {"kind": "adam", "lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "steps": 3},
    "quiz": [{"step": "upd.curve", "ask": "Does it fall?", "answer": "yes"}],
}
XOR = {
    "name": "fuzz-xor",
    "model": {"kind": "mlp", "sizes": [2, 4, 1]},
    "input": {"features": [[0, 0], [0, 1], [1, 0], [1, 1]]},
    "task": {"kind": "regress", "target": [0, 1, 1, 0]},
}
TRAIN = {
    "name": "fuzz-train",
    "model": {"kind": "encoder", "d_model": 4, "n_heads": 2, "norm": "pre", "norm_type": "batch", "dropout": 0.1,
              "positional": "learned", "max_len": 4},
    "input": {"vocab": ["<pad>", "I", "am", "happy", "sad"], "tokenizer": "word"},
    "task": {"kind": "classify", "classes": ["neg", "pos"]},
    "data": {"examples": [{"text": "I am happy", "label": "pos"}, {"tokens": ["I", "am", "sad"], "label": "neg"},
                          {"text": "am sad", "label": "neg"}],
             "validation": [{"text": "am happy", "label": "pos"}], "batch_size": 2, "shuffle": True, "seed": 3},
    "optim": {"kind": "adamw", "lr": 0.01, "beta1": 0.9, "weight_decay": 0.02, "clip_grad_norm": 1.0,
              "schedule": {"kind": "cosine", "warmup": 2}, "epochs": 3},
}
LM = {
    "name": "fuzz-lm",
    "model": {"kind": "decoder", "d_model": 4, "dropout": 0.2},
    "input": {"tokenizer": "char"},
    "data": {"examples": [{"text": "abc"}, {"text": "ab"}], "validation": [{"tokens": ["b", "c"]}]},
    "optim": {"kind": "sgd", "weight_decay": 0.1, "steps": 4, "schedule": {"kind": "linear"}},
}
MLP_DATA = {
    "name": "fuzz-mlp-data",
    "model": {"kind": "mlp", "sizes": [2, 2, 1]},
    "task": {"kind": "regress"},
    "data": {"examples": [{"features": [0, 1], "target": [1]}, {"features": [1, 1], "target": 0.0}],
             "batch_size": 1},
    "optim": {"kind": "momentum", "epochs": 2},
}
SEQ2SEQ = {
    "name": "fuzz-s2s",
    "model": {"kind": "seq2seq", "d_model": 4, "n_heads": 2, "n_layers": 1, "n_dec_layers": 2, "d_ff": 4,
              "norm": "pre", "final_norm": True, "positional": "learned", "max_len": 4, "tie_embeddings": True},
    "input": {"vocab": ["<pad>", "<bos>", "<eos>", "I", "love", "pizza", "me", "gusta"],
              "source": ["I", "love", "pizza"], "target": ["<bos>", "me", "gusta", "<eos>"]},
    "task": {"kind": "seq2seq"},
    "generate": {"max_new_tokens": 3, "greedy": True},
    "weights": {"values": {"decoder.layers.1.cross_attn.b_K": [0.1, 0.2, 0.3, 0.4],
                           "encoder.ln_f.gamma": [1.0, 1.0, 1.0, 1.0]}},
}
SEQ2SEQ_DATA = {
    "name": "fuzz-s2s-data",
    "model": {"kind": "seq2seq", "d_model": 4, "norm_type": "batch"},
    "input": {"tokenizer": "char"},
    "data": {"examples": [{"source_text": "ab", "target": ["<bos>", "b", "a", "<eos>"]},
                          {"source_text": "cab", "target": ["<bos>", "b", "a"]}],
             "validation": [{"source": ["a", "b"], "target": ["<bos>", "c"]}], "batch_size": 2},
    "optim": {"kind": "adamw", "epochs": 2},
}
# YAML counts all of these as line ends, so its line numbers do too
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
BASES = [ENCODER, DECODER, MLP, BATCH, XOR, TRAIN, LM, MLP_DATA, SEQ2SEQ, SEQ2SEQ_DATA]
TEXTS = [yaml.safe_dump(b, sort_keys=False) for b in BASES] + \
    [template(k).replace("__NAME__", "fuzz") for k in ("encoder", "decoder", "seq2seq", "mlp")]

# what a learner might type where a value goes, plus what a fuzzer would
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.integers(), st.sampled_from([2**64, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "4", "yes", "<pad>", "gelu", "mlp",
                                                                    "decoder", "next_token", "regress", "I", "seq2seq", "<bos>",
                                                                    "adamw", "cosine", "batch", "pos"]),
    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["kind", "d_model", "tokens", "std", "text", "label", "epochs", "source", "target"]), inner, max_size=3), max_leaves=12)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def mutate(doc, data) -> None:
    path = data.draw(st.sampled_from([p for p in paths(doc) if p]))
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last, op = path[-1], data.draw(st.sampled_from(["drop", "rename", "retype", "grow", "shrink", "wrap"]))
    value = parent[last]
    if op == "drop":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        new = data.draw(st.sampled_from([f"{last}s", str(last)[:-1], "modle", "kind", "d_model"]) | st.text(max_size=6))
        parent[new] = parent.pop(last)
    elif op == "grow" and isinstance(value, list):
        value.append(copy.deepcopy(value[-1]) if value and data.draw(st.booleans()) else data.draw(scalars))
    elif op == "shrink" and isinstance(value, list) and value:
        value.pop(data.draw(st.integers(0, len(value) - 1)))
    elif op == "wrap":
        parent[last] = [value] if data.draw(st.booleans()) else {"x": value}
    else:
        parent[last] = data.draw(values)


def loads_or_refuses(text: str) -> None:
    """The property every test here checks."""
    with mock.patch.object(limits, "MEMORY_LIMIT", 64 * 2**20):  # keep "allowed" models quick to build
        try:
            sc = parse_scenario(text, "fuzz.yaml")
        except ScenarioError as exc:
            line = str(exc)
            assert "\n" not in line and line.startswith("fuzz.yaml:") and ": error: " in line
            assert 1 <= exc.line <= len(LINE_BREAKS.split(text)) + 1 and exc.col >= 1
            assert exc.message.strip()
            return
    n_out = n_outputs(sc.model, sc.task.kind, len(sc.task.classes), len(sc.vocab))
    specs = param_specs(sc.model, len(sc.vocab), n_out)
    assert list(sc.params) == list(specs)
    for name, (shape, _) in specs.items():
        assert sc.params[name].shape == shape and sc.params[name].dtype == np.float64
        assert np.isfinite(sc.params[name]).all()
    assert all(t in sc.vocab for t in sc.tokens)
    if sc.model.kind == "seq2seq":
        _pair_is_sound(sc, sc.source_tokens, sc.tokens)
    else:
        assert sc.model.n_dec_layers == 0 and not sc.source_tokens
    if sc.optim is not None:
        o = sc.optim
        assert o.kind in ("sgd", "momentum", "adam", "adamw") and o.lr > 0 and 1 <= o.steps <= 10000
        assert o.weight_decay >= 0 and (o.clip_grad_norm is None or o.clip_grad_norm > 0)
        assert o.schedule.kind in ("constant", "linear", "cosine") and o.schedule.warmup >= 0
        if o.epochs is not None:
            per_epoch = 1 if sc.data is None else -(-len(sc.data.examples) // sc.data.batch_size)
            assert o.steps == o.epochs * per_epoch
    assert 0 <= sc.model.dropout < 1 and sc.model.norm_type in ("layer", "batch")
    if sc.data is not None:
        _data_is_sound(sc)
        for name, v in sc.optim.velocity.items():
            assert sc.optim.kind == "momentum" and v.shape == specs[name][0] and np.isfinite(v).all()
    if sc.generate is not None:
        g = sc.generate
        assert (sc.model.kind, sc.task.kind) in (("decoder", "next_token"), ("seq2seq", "seq2seq"))
        assert 0 < g.top_p <= 1
        prompt = 1 if sc.model.kind == "seq2seq" else len(sc.tokens)  # a seq2seq decodes from <bos>
        if sc.model.positional == "learned":
            assert prompt + g.max_new_tokens - 1 <= sc.model.max_len
    for item in sc.quiz:
        assert set(item) == {"step", "ask", "answer", "tolerance", "why"} and item["step"][:4] in (
            "fwd.", "bwd.", "upd.", "gen.")
    if sc.batch is not None:
        assert all(len(row) == sc.model.sizes[0] for row in sc.features)
        if sc.task.kind == "regress":
            assert np.shape(sc.task.target) == (sc.batch, sc.model.sizes[-1])
        else:
            assert len(sc.task.labels) == sc.batch and set(sc.task.labels) <= set(sc.task.classes)


def _pair_is_sound(sc, source, target) -> None:
    """What the seq2seq engine relies on: a source that starts with a real token, `<bos>` first in the target
    and a scored token after it, every token in the one vocab, each side within max_len."""
    assert sc.task.kind == "seq2seq" and 1 <= sc.model.n_dec_layers <= 48
    assert ("head.W" in sc.params) != sc.model.tie_embeddings
    assert f"decoder.layers.{sc.model.n_dec_layers - 1}.cross_attn.W_Q" in sc.params
    assert source and source[0] != "<pad>" and target[0] == "<bos>" and len(target) >= 2
    assert any(t != "<pad>" for t in target[1:]) and set(source) | set(target) <= set(sc.vocab)
    if sc.model.positional == "learned":
        assert len(source) <= sc.model.max_len and len(target) - 1 <= sc.model.max_len


def _data_is_sound(sc) -> None:
    data = sc.data
    assert sc.optim is not None and data.examples and 1 <= data.batch_size <= len(data.examples)
    for ex in data.examples + data.validation:
        assert ex.line >= 1
        if sc.model.kind == "mlp":
            assert len(ex.features) == sc.model.sizes[0]
        else:
            assert ex.tokens and ex.tokens[0] != "<pad>" and set(ex.tokens) <= set(sc.vocab)
        if sc.task.kind == "classify":
            assert ex.label in sc.task.classes
        if sc.task.kind == "next_token":
            assert len(ex.tokens) >= 2
        if sc.task.kind == "seq2seq":
            _pair_is_sound(sc, ex.source, ex.tokens)
    lengths = {(len(ex.tokens), len(ex.source)) for ex in data.examples}
    if sc.model.kind != "mlp" and len(lengths) > 1 and data.batch_size > 1:
        assert "<pad>" in sc.vocab
    json.dumps(sc.config_dict())


def test_every_base_is_valid():
    for text in TEXTS:
        parse_scenario(text, "base.yaml")


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_structural_mutations_never_escape(data):
    doc = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(doc, data)
    loads_or_refuses(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


YAML_BITS = [":", ": ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system ", "!x ", "\t",
             "  ", "\n", "#", "'", '"', "|", ">", "%", "@", "`", "? ", "<<: ", "---\n", "...\n", "\ufeff", "\r\n",
             "\x01", "é", ".nan", "1e400", "~", "0x1F", "-1"]


@settings(max_examples=160, deadline=None)
@given(text=st.sampled_from(TEXTS), edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(YAML_BITS),
                                                              st.integers(0, 3)), min_size=1, max_size=4))
def test_text_edits_never_escape(text, edits):
    for where, bit, cut in edits:
        i = int(where * len(text))
        text = text[:i] + bit + text[i + cut:]
    loads_or_refuses(text)


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=200) | st.sampled_from(TEXTS).map(lambda t: t.encode("utf-16")))
def test_raw_bytes_never_escape(raw):
    try:
        text = decode(raw, "fuzz.yaml")
    except ScenarioError as exc:
        assert "\n" not in str(exc) and exc.line >= 1
        return
    loads_or_refuses(text)
