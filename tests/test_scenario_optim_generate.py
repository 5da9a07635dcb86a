"""The scenario keys for training (`optim:`), generation (`generate:`), the author's quiz (`quiz:`) and mlp
batches: each mistake is one located line with exit 2, valid files load with the values they say, the
command-line overrides of `generate` follow the same rules, and `stepper check` verifies them all.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from stepper import cli
from stepper.engine import build_trace
from stepper.scenario import (
    GenerateConfig,
    OptimConfig,
    ScenarioError,
    load_scenario,
    parse_scenario,
    with_generation,
)
from stepper.scenario.limits import over_limit
from stepper.scenario.starter import template

MLP = """name: m
model:
  kind: mlp
  sizes: [2, 2, 1]
input:
  features: [1.0, -1.0]
task:
  kind: regress
  target: [0.5]
"""  # 9 lines: a section appended starts on line 10
DEC = """name: d
model:
  kind: decoder
  d_model: 4
  n_heads: 2
  positional: learned
  max_len: 6
input:
  tokens: [a, b, c]
"""  # 9 lines
ENC = """name: e
model:
  kind: encoder
input:
  tokens: [I, am]
task:
  classes: [negative, positive]
  label: positive
"""  # 8 lines
XOR = """name: xor
model:
  kind: mlp
  sizes: [2, 4, 1]
  activation: relu
input:
  features:
    - [0, 0]
    - [0, 1]
    - [1, 0]
    - [1, 1]
"""  # 11 lines; the rows are lines 8-11
XOR2 = XOR.replace("sizes: [2, 4, 1]", "sizes: [2, 4, 2]")


def quiz(*items: str) -> str:
    return "quiz:\n" + "".join(items)


ITEM = "  - step: fwd.loss\n    ask: What is the loss?\n    answer: 0.5\n"

# (file content, line, column or None, words the message must contain)
CASES = {
    # -- optim
    "optim-bad-kind": (MLP + "optim:\n  kind: nesterov\n", 11, 9,
                       ["`kind: nesterov` is not allowed", "`sgd`, `momentum`, `adam`"]),
    "optim-kind-close": (MLP + "optim:\n  kind: adm\n", 11, 9, ["did you mean `adam`?"]),
    "optim-lr-zero": (MLP + "optim:\n  lr: 0\n", 11, 7, ["`lr: 0` is out of range", "above 0"]),
    "optim-lr-negative": (MLP + "optim:\n  lr: -0.5\n", 11, 7, ["`lr: -0.5` is out of range"]),
    "optim-lr-text": (MLP + "optim:\n  lr: fast\n", 11, 7, ["`lr` must be a number", "`fast` (text)"]),
    "optim-momentum-one": (MLP + "optim:\n  kind: momentum\n  momentum: 1.0\n", 12, 13,
                           ["`momentum: 1.0` is out of range", "below 1"]),
    "optim-beta2-one": (MLP + "optim:\n  kind: adam\n  beta2: 1\n", 12, 10, ["`beta2: 1` is out of range"]),
    "optim-eps-zero": (MLP + "optim:\n  kind: adam\n  eps: 0\n", 12, 8, ["`eps: 0` is out of range", "above 0"]),
    "optim-steps-zero": (MLP + "optim:\n  steps: 0\n", 11, 10, ["`steps: 0` is out of range", "from 1 to 10000"]),
    "optim-steps-too-many": (MLP + "optim:\n  steps: 10001\n", 11, 10, ["from 1 to 10000"]),
    "optim-steps-float": (MLP + "optim:\n  steps: 2.5\n", 11, 10, ["`steps` must be a whole number"]),
    "optim-key-for-other-kind": (MLP + "optim:\n  kind: sgd\n  beta1: 0.9\n", 12, 3,
                                 ["`beta1` does not apply to `kind: sgd`", "it is for `kind: adam or adamw`"]),
    "optim-momentum-for-default-sgd": (MLP + "optim:\n  momentum: 0.5\n", 11, 3,
                                       ["`momentum` does not apply to `kind: sgd`"]),
    "optim-unknown-key": (MLP + "optim:\n  lr: 0.1\n  stpes: 3\n", 12, 3, ["unknown key `stpes`", "`steps`"]),
    "optim-lr-at-top-level": (MLP + "lr: 0.1\n", 10, 1, ["unknown key `lr`", "belongs under `optim:`"]),
    "optim-not-a-mapping": (MLP + "optim: adam\n", 10, 8, ["`optim` must be a mapping"]),
    "velocity-unknown-name": (MLP + "optim:\n  kind: momentum\n  velocity:\n    layers.0.Q: [[1, 1], [1, 1]]\n",
                              13, 5, ["no parameter `layers.0.Q`", "did you mean `layers.0.W`?"]),
    "velocity-layer-too-far": (MLP + "optim:\n  kind: momentum\n  velocity:\n    layers.5.W: [[1]]\n",
                               13, 5, ["no parameter `layers.5.W`"]),
    "velocity-wrong-shape": (MLP + "optim:\n  kind: momentum\n  velocity:\n    layers.0.W: [[0.1]]\n", 13, 17,
                             ["wrong shape", "expected [2, 2] (sizes[0] × sizes[1]), got [1, 1]", "2 rows of 2"]),
    "velocity-ragged": (MLP + "optim:\n  kind: momentum\n  velocity:\n    layers.0.W: [[1, 2], [3]]\n", 13, 26,
                        ["ragged rows"]),
    "velocity-nan": (MLP + "optim:\n  kind: momentum\n  velocity:\n    layers.0.b: [.nan, 0]\n", 13, 18, ["NaN"]),
    "velocity-for-adam": (MLP + "optim:\n  kind: adam\n  velocity:\n    layers.0.b: [0, 0]\n", 12, 3,
                          ["`velocity` does not apply to `kind: adam`", "`kind: momentum`"]),
    "velocity-for-sgd": (MLP + "optim:\n  velocity: {layers.0.b: [0, 0]}\n", 11, 3,
                         ["`velocity` does not apply to `kind: sgd`"]),
    # -- generate
    "generate-on-encoder": (ENC + "generate:\n  max_new_tokens: 2\n", 9, 1,
                            ["`generate` does not apply to `model.kind: encoder`", "`model.kind: decoder`",
                             "remove `generate`"]),
    "generate-on-mlp": (MLP + "generate: {}\n", 10, 1, ["`generate` does not apply to `model.kind: mlp`"]),
    "generate-decoder-classify": (DEC + "task:\n  kind: classify\n  classes: [x, y]\n  label: x\ngenerate: {}\n",
                                  14, 1, ["needs `task.kind: next_token`", "this task is `classify`"]),
    "generate-past-max-len": (DEC + "generate:\n  max_new_tokens: 5\n", 11, 19,
                              ["the prompt has 3 tokens and `max_new_tokens: 5`", "3 + 5 − 1 = 7 positions",
                               "`model.max_len` is 6", "`max_new_tokens: 4` or less", "`model.max_len: 7`"]),
    "generate-default-past-max-len": (DEC.replace("max_len: 6", "max_len: 4") + "generate:\n  top_k: 2\n", 11,
                                      None, ["`max_new_tokens` 5 (the default)", "`max_new_tokens: 2` or less"]),
    "generate-prompt-fills-max-len": (DEC.replace("max_len: 6", "max_len: 2") + "generate:\n  max_new_tokens: 1\n",
                                      7, 12, ["3 + 1 − 1 = 3 positions", "`model.max_len` is 2",
                                              "set `model.max_len: 3`"]),
    "generate-top-p-zero": (DEC + "generate:\n  top_p: 0\n", 11, 10,
                            ["`top_p: 0` is out of range", "a number above 0, up to 1"]),
    "generate-top-p-above-one": (DEC + "generate:\n  top_p: 1.5\n", 11, 10, ["`top_p: 1.5` is out of range"]),
    "generate-temperature-negative": (DEC + "generate:\n  temperature: -1\n", 11, 16,
                                      ["`temperature: -1` is out of range", "from 0 to 100"]),
    "generate-top-k-negative": (DEC + "generate:\n  top_k: -2\n", 11, 10, ["`top_k: -2` is out of range"]),
    "generate-max-new-tokens-zero": (DEC + "generate:\n  max_new_tokens: 0\n", 11, 19, ["from 1 to 256"]),
    "generate-greedy-text": (DEC + "generate:\n  greedy: always\n", 11, 11, ["`greedy` must be true or false"]),
    "generate-unknown-key": (DEC + "generate:\n  top-k: 2\n", 11, 3, ["unknown key `top-k`", "`top_k`"]),
    "generate-key-at-top": (DEC + "temperature: 0.5\n", 10, 1, ["belongs under `generate:`"]),
    # -- quiz
    "quiz-missing-answer": (MLP + quiz("  - step: fwd.loss\n    ask: What is the loss?\n"), 11, 5,
                            ["missing required key `answer` in `quiz.0`"]),
    "quiz-missing-step": (MLP + quiz("  - ask: What?\n    answer: 1\n"), 11, 5, ["missing required key `step`"]),
    "quiz-not-a-list": (MLP + "quiz:\n  step: fwd.loss\n", 11, 3, ["`quiz` must be a list, got a mapping"]),
    "quiz-item-not-a-mapping": (MLP + quiz(ITEM, "  - fwd.loss\n"), 14, 5,
                                ["each quiz item is a mapping", "`fwd.loss` (text)"]),
    "quiz-unknown-key": (MLP + quiz(ITEM + "    anser: 1\n"), 14, 5, ["unknown key `anser`", "`answer`"]),
    "quiz-bad-phase": (MLP + quiz(ITEM.replace("fwd.loss", "forward.loss")), 11, 11,
                       ["`step: forward.loss` is no step id", "`fwd.`, `bwd.`, `upd.` or `gen.`"]),
    "quiz-pattern": (MLP + quiz(ITEM.replace("fwd.loss", "fwd.*")), 11, 11, ["is a pattern", "exact id"]),
    "quiz-upd-without-optim": (MLP + quiz(ITEM.replace("fwd.loss", "upd.curve")), 11, 11,
                               ["`upd.` steps are training updates", "no `optim:`"]),
    "quiz-gen-without-generate": (MLP + quiz(ITEM.replace("fwd.loss", "gen.text")), 11, 11, ["no `generate:`"]),
    "quiz-twice-at-one-step": (MLP + quiz(ITEM, ITEM), 14, 11, ["quiz item 0 already asks at `fwd.loss`"]),
    "quiz-tolerance-negative": (MLP + quiz(ITEM + "    tolerance: -0.1\n"), 14, 16,
                                ["`tolerance: -0.1` is out of range"]),
    "quiz-tolerance-for-text": (MLP + quiz(ITEM.replace("answer: 0.5", "answer: small") + "    tolerance: 0.1\n"),
                                14, 5, ["`tolerance` is for a number answer", "`answer: small` is text"]),
    "quiz-answer-infinite": (MLP + quiz(ITEM.replace("answer: 0.5", "answer: .inf")), 13, 13, ["infinite"]),
    "quiz-answer-empty": (MLP + quiz(ITEM.replace("answer: 0.5", 'answer: ""')), 13, 13, ["`answer` is empty"]),
    "quiz-answer-list": (MLP + quiz(ITEM.replace("answer: 0.5", "answer: [1, 2]")), 13, 13,
                         ["`answer` must be a word or text"]),
    "quiz-ask-empty": (MLP + quiz(ITEM.replace("ask: What is the loss?", 'ask: " "')), 12, 10, ["`ask` is empty"]),
    # -- mlp batches
    "batch-ragged": (XOR.replace("- [0, 1]", "- [0, 1, 1]") + "task: {target: [0, 1, 1, 0]}\n", 9, 7,
                     ["ragged rows: row 1 of `features` has 3 numbers but row 0 has 2", "sizes[0] = 2"]),
    "batch-width": (XOR.replace("[2, 4, 1]", "[3, 4, 1]") + "task: {target: [0, 1, 1, 0]}\n", 8, 7,
                    ["row 0 of `features` has 2 numbers but `sizes[0]` is 3", "change `sizes`"]),
    "batch-row-not-a-list": (XOR.replace("- [1, 0]", "- 1") + "task: {target: [0, 1, 1, 0]}\n", 10, 7,
                             ["row 2 of `features` is `1`, not a list", "e.g. `features: [[0, 1], [1, 0]]`"]),
    "batch-row-text": (XOR.replace("- [1, 0]", "- [1, one]") + "task: {target: [0, 1, 1, 0]}\n", 10, 11,
                       ["expected a feature number", "`one` (text)"]),
    "batch-target-count": (XOR + "task:\n  target: [0, 1, 1]\n", 13, 11,
                           ["`target` has 3 numbers but `features` has 4 examples", "one target per example"]),
    "batch-target-rows-count": (XOR + "task:\n  target: [[0], [1], [1]]\n", 13, 11,
                                ["`target` has 3 rows but `features` has 4 examples"]),
    "batch-target-row-width": (XOR + "task:\n  target: [[0], [1, 1], [1], [0]]\n", 13, 17,
                               ["row 1 of `target` has 2 numbers but the mlp has 1 output"]),
    "batch-target-flat-for-two-outputs": (XOR2 + "task:\n  target: [0, 1, 1, 0]\n", 13, 11,
                                          ["`target` is one flat list, but the mlp has 2 outputs"]),
    "batch-target-missing": (XOR + "task: {}\n", 12, 7, ["regress needs `task.target:`", "one per example"]),
    "single-example-target-rows": (MLP.replace("target: [0.5]", "target: [[0.5]]"), 9, 11,
                                   ["`target` has rows, one per example, but `features` is a single example"]),
    "batch-label-not-labels": (XOR2 + "task:\n  kind: classify\n  classes: [a, b]\n  label: a\n", 15, 3,
                               ["`features` holds 4 examples", "replace `label:` with `labels: [a, b, a, b]`"]),
    "batch-labels-missing": (XOR2 + "task:\n  kind: classify\n  classes: [a, b]\n", 13, 3,
                             ["classify on a batch of 4 examples needs `task.labels:`"]),
    "batch-labels-count": (XOR2 + "task:\n  kind: classify\n  classes: [a, b]\n  labels: [a, b, a]\n", 15, 11,
                           ["`labels` has 3 names but `features` has 4 examples"]),
    "batch-label-unknown": (XOR2 + "task:\n  kind: classify\n  classes: [same, diff]\n  labels: [same, dif, diff, same]\n",
                            15, 18, ["label 1 `dif` is not one of the classes", "did you mean `diff`?"]),
    "batch-label-index": (XOR2 + "task:\n  kind: classify\n  classes: [a, b]\n  labels: [a, 1, b, a]\n", 15, 15,
                          ["label 1 (`1`) looks like an index", "by name: `b`"]),
    "labels-for-one-example": (MLP.replace("sizes: [2, 2, 1]", "sizes: [2, 2, 2]").replace(
        "  kind: regress\n  target: [0.5]\n", "  kind: classify\n  classes: [a, b]\n  labels: [a]\n"), 10, 3,
        ["`labels` gives the class of each example of a batch", "write `label: NAME`"]),
    "labels-for-encoder": (ENC.replace("label: positive", "labels: [positive]"), 8, 3,
                           ["`labels` does not apply to `kind: encoder`", "give its class as `label:`"]),
    "labels-for-regress": (XOR + "task:\n  target: [0, 1, 1, 0]\n  labels: [a, b, a, b]\n", 14, 3,
                           ["`labels` is for `task.kind: classify`"]),
}


def check(tmp_path, capsys, content, name="case.yaml"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code = cli.main(["check", "-q", str(path)])
    out, err = capsys.readouterr()
    return code, out, err, path


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_one_located_line_with_exit_2(case, tmp_path, capsys):
    content, line, col, words = CASES[case]
    code, _, err, path = check(tmp_path, capsys, content)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    where = f"{path}:{line}:{col if col else ''}"
    assert err.startswith(where) and ": error: " in err, err
    for w in words:
        assert w in err, (w, err)
    assert " — " in err, "every message says how to fix it"


# ------------------------------------------------------------------ valid files load with their values

def test_optim_defaults_and_an_empty_section():
    sc = parse_scenario(MLP + "optim: {}\n")
    assert sc.optim == OptimConfig(kind="sgd", lr=0.1, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, steps=1)
    assert sc.optim.velocity == {}
    assert parse_scenario(MLP).optim is None


def test_optim_momentum_with_velocity_loads_exactly():
    sc = parse_scenario(MLP + "optim: {kind: momentum, lr: 0.05, momentum: 0.5, steps: 3, "
                              "velocity: {layers.0.W: [[0.1, 0.2], [0.3, 0.4]], layers.1.b: [1]}}\n")
    o = sc.optim
    assert (o.kind, o.lr, o.momentum, o.steps) == ("momentum", 0.05, 0.5, 3)
    assert list(o.velocity) == ["layers.0.W", "layers.1.b"]
    assert o.velocity["layers.0.W"].dtype == np.float64
    assert np.array_equal(o.velocity["layers.0.W"], [[0.1, 0.2], [0.3, 0.4]])
    assert np.array_equal(o.velocity["layers.1.b"], [1.0])
    assert sc.config_dict()["optim"]["velocity"] == {"layers.0.W": [[0.1, 0.2], [0.3, 0.4]], "layers.1.b": [1.0]}
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.lr = 1.0  # type: ignore[misc]


def test_optim_adam_settings_and_whole_numbers_as_floats():
    sc = parse_scenario(MLP + "optim: {kind: adam, lr: 1, beta1: 0, beta2: 0.99, eps: 1e-6, steps: 10000}\n")
    o = sc.optim
    assert (o.kind, o.lr, o.beta1, o.beta2, o.eps, o.steps) == ("adam", 1.0, 0.0, 0.99, 1e-6, 10000)
    assert isinstance(o.lr, float) and isinstance(o.beta1, float)


def test_generate_defaults_and_values():
    sc = parse_scenario(DEC + "generate: {}\n".replace("{}", "{max_new_tokens: 4}"))
    assert sc.generate == GenerateConfig(max_new_tokens=4, temperature=1.0, top_k=0, top_p=1.0, seed=0, greedy=False)
    sc = parse_scenario(DEC + "generate: {max_new_tokens: 2, temperature: 0, top_k: 2, top_p: 0.9, seed: 7, "
                              "greedy: true}\n")
    assert sc.generate == GenerateConfig(2, 0.0, 2, 0.9, 7, True)
    assert sc.config_dict()["generate"]["top_p"] == 0.9
    assert parse_scenario(DEC).generate is None and "generate" not in parse_scenario(DEC).config_dict()


def test_generate_fits_learned_positions_exactly():
    # prompt 3 + 4 new − 1 = 6 = max_len: the last new token is chosen, never read
    assert parse_scenario(DEC + "generate: {max_new_tokens: 4}\n").generate.max_new_tokens == 4
    # sinusoidal positions have no such limit
    sc = parse_scenario(DEC.replace("positional: learned", "positional: sinusoidal") +
                        "generate: {max_new_tokens: 256}\n")
    assert sc.generate.max_new_tokens == 256


def test_quiz_items_are_plain_dicts_with_every_key():
    sc = parse_scenario(MLP + "optim: {}\n" + quiz(
        ITEM + "    tolerance: 0.01\n    why: the mean of one square\n",
        "  - step: bwd.loss\n    ask: Is dL/dŷ positive or negative?\n    answer: negative\n",
        "  - step: upd.layers.0.W\n    ask: How many numbers change?\n    answer: 4\n"))
    assert sc.quiz == (
        {"step": "fwd.loss", "ask": "What is the loss?", "answer": 0.5, "tolerance": 0.01,
         "why": "the mean of one square"},
        {"step": "bwd.loss", "ask": "Is dL/dŷ positive or negative?", "answer": "negative", "tolerance": 0.0,
         "why": ""},
        {"step": "upd.layers.0.W", "ask": "How many numbers change?", "answer": 4, "tolerance": 0.0, "why": ""})
    assert isinstance(sc.quiz, tuple) and all(type(item) is dict for item in sc.quiz)
    assert parse_scenario(MLP).quiz == ()


def test_quiz_text_answers_stay_as_written():
    sc = parse_scenario(MLP + quiz(ITEM.replace("answer: 0.5", "answer: yes"),
                                   ITEM.replace("fwd.loss", "bwd.loss").replace("answer: 0.5", "answer: '010'")))
    assert [q["answer"] for q in sc.quiz] == ["yes", "010"]


def test_quiz_reaches_the_trace_and_the_quiz_session():
    from stepper.quiz import mark, question_for

    sc = parse_scenario(MLP + quiz(ITEM + "    tolerance: 10\n    why: because\n"))
    trace = build_trace(sc)
    assert trace.quiz == list(sc.quiz)
    index = next(i for i, s in enumerate(trace.steps) if s.id == "fwd.loss")
    q = question_for(trace, index)
    assert (q.kind, q.prompt, q.answer, q.tolerance, q.why) == ("authored", "What is the loss?", "0.5", 10.0, "because")
    assert mark(q, "3").ok and not mark(q, "11").ok


def test_batch_regress_features_and_target():
    sc = parse_scenario(XOR + "task:\n  target: [0, 1, 1, 0]\n")
    assert sc.features == ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)) and sc.batch == 4
    assert sc.task.target == ((0.0,), (1.0,), (1.0,), (0.0,))
    assert sc.config_dict()["task"]["target"] == [[0.0], [1.0], [1.0], [0.0]]
    rows = parse_scenario(XOR2 + "task:\n  target: [[0, 1], [1, 0], [1, 0], [0, 1]]\n")
    assert rows.task.target == ((0.0, 1.0), (1.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    one = parse_scenario(MLP.replace("features: [1.0, -1.0]", "features: [[1.0, -1.0]]"))
    assert one.features == ((1.0, -1.0),) and one.task.target == ((0.5,),) and one.batch == 1


def test_single_example_stays_flat():
    sc = parse_scenario(MLP)
    assert sc.features == (1.0, -1.0) and sc.task.target == (0.5,) and sc.batch is None


def test_batch_classify_labels():
    sc = parse_scenario(XOR2 + "task:\n  kind: classify\n  classes: [same, different]\n"
                               "  labels: [same, different, different, same]\n")
    assert sc.task.labels == ("same", "different", "different", "same") and sc.task.label is None
    assert sc.task.label_indices == [0, 1, 1, 0]


def test_a_batch_counts_in_the_size_limit():
    sc = parse_scenario(XOR + "task:\n  target: [0, 1, 1, 0]\n")
    message, blame = over_limit(sc.model, 0, "regress", 0, 100_000, limit=1000)
    assert "4 × examples × sum(sizes) = 4 × 100000 × 7" in message and blame[0] == ("input", "features")
    assert over_limit(sc.model, 0, "regress", 0, 4) is None


# ------------------------------------------------------------------ command-line overrides

def test_with_generation_overrides_and_keeps():
    sc = parse_scenario(DEC + "generate: {max_new_tokens: 3, top_k: 2, seed: 4}\n", "d.yaml")
    out = with_generation(sc, temperature=0.5, top_p=0.8, greedy=True, seed=None)
    assert out.generate == GenerateConfig(max_new_tokens=3, temperature=0.5, top_k=2, top_p=0.8, seed=4, greedy=True)
    assert sc.generate.temperature == 1.0, "the scenario itself is not changed"
    assert out.params is sc.params and out.tokens == sc.tokens


def test_with_generation_creates_the_default_settings():
    sc = parse_scenario(DEC.replace("positional: learned", "positional: sinusoidal"), "d.yaml")
    assert with_generation(sc).generate == GenerateConfig()
    assert with_generation(sc, top_k=2).generate == GenerateConfig(top_k=2)


@pytest.mark.parametrize("kw,words", [
    ({"top_p": 0}, ["--top-p 0 is out of range", "above 0, up to 1"]),
    ({"top_p": 1.5}, ["--top-p 1.5 is out of range"]),
    ({"temperature": -0.1}, ["--temperature -0.1 is out of range"]),
    ({"temperature": float("inf")}, ["--temperature inf is not a finite number"]),
    ({"top_k": -1}, ["--top-k -1 is out of range", "from 0 to 1000000"]),
    ({"top_k": 1.5}, ["--top-k must be a whole number"]),
    ({"max_new_tokens": 0}, ["--max-new-tokens 0 is out of range", "from 1 to 256"]),
    ({"max_new_tokens": 5}, ["--max-new-tokens 5", "3 + 5 − 1 = 7 positions", "use --max-new-tokens 4 or less"]),
    ({"seed": -1}, ["--seed -1 is out of range"]),
    ({"greedy": "yes"}, ["--greedy is on or off"]),
])
def test_with_generation_refuses_bad_flags_naming_them(kw, words):
    sc = parse_scenario(DEC, "d.yaml")
    with pytest.raises(ScenarioError) as err:
        with_generation(sc, **kw)
    e = err.value
    assert (e.file, e.line, e.col) == ("d.yaml", 1, 1)
    assert re.fullmatch(r"d\.yaml:1:1: error: .+ — .+", str(e)), str(e)
    for w in words:
        assert w in e.message, (w, e.message)


def test_with_generation_needs_a_decoder_and_points_at_the_kind():
    sc = parse_scenario(ENC, "e.yaml")
    with pytest.raises(ScenarioError) as err:
        with_generation(sc, top_k=2)
    assert (err.value.line, err.value.col) == (3, 3)
    assert "--top-k" in err.value.message and "`model.kind: decoder`" in err.value.message
    with pytest.raises(ScenarioError) as err:
        with_generation(parse_scenario(MLP, "m.yaml"))
    assert "an mlp has no tokens to continue" in err.value.message


def test_with_generation_default_count_must_fit_learned_positions():
    sc = parse_scenario(DEC.replace("max_len: 6", "max_len: 3"), "d.yaml")
    with pytest.raises(ScenarioError) as err:
        with_generation(sc, top_k=2)
    assert "`max_new_tokens` 5 (the default)" in err.value.message
    assert with_generation(sc, top_k=2, max_new_tokens=1).generate.max_new_tokens == 1


def test_with_generation_rejects_unknown_settings():
    with pytest.raises(TypeError):
        with_generation(parse_scenario(DEC), top_q=0.5)


# ------------------------------------------------------------------ stepper check verifies them

CHECKED = {
    "mlp-momentum-velocity": MLP + "optim:\n  kind: momentum\n  lr: 0.1\n  momentum: 0.9\n  steps: 2\n"
                                   "  velocity:\n    layers.0.W: [[0.1, 0.0], [0.0, -0.1]]\n    layers.1.b: [0.2]\n",
    "xor-batch-adam": XOR + "task:\n  kind: regress\n  target: [0, 1, 1, 0]\noptim: {kind: adam, lr: 0.05, steps: 50}\n",
    "decoder-generate": DEC + "generate:\n  max_new_tokens: 4\n  top_k: 2\n  temperature: 0.7\n  seed: 1\n"
                              "quiz:\n  - {step: gen.1.sample, ask: \"Which token comes first?\", answer: a}\n",
    "mlp-batch-classify": XOR2.replace("activation: relu", "activation: gelu") +
    "task:\n  kind: classify\n  classes: [same, different]\n  labels: [same, different, different, same]\n",
    "xor-batch": XOR + "task:\n  target: [0, 1, 1, 0]\n",
    "decoder-greedy-top-p": DEC.replace("positional: learned", "positional: sinusoidal") +
    "generate: {max_new_tokens: 3, top_p: 0.5, greedy: true}\n",
}


@pytest.mark.parametrize("case", list(CHECKED))
def test_stepper_check_verifies(case, tmp_path, capsys):
    code, out, err, path = check(tmp_path, capsys, CHECKED[case])
    assert code == 0, out + err
    assert "all verified" in out and err == ""


def test_the_loaded_training_reaches_the_engine():
    sc = parse_scenario(CHECKED["xor-batch-adam"])
    trace = build_trace(sc)
    assert len(trace.losses) == 51 and trace.losses[-1] < trace.losses[0]
    assert {s.id for s in trace.steps if s.id.startswith("upd.")} == {
        "upd.layers.0.W", "upd.layers.0.b", "upd.layers.1.W", "upd.layers.1.b", "upd.curve"}
    sc = parse_scenario(CHECKED["mlp-momentum-velocity"])
    step = next(s for s in build_trace(sc).steps if s.id == "upd.layers.0.W")
    assert np.array_equal(step.inputs["v"].value, [[0.1, 0.0], [0.0, -0.1]])


def test_the_loaded_generation_reaches_the_engine():
    sc = parse_scenario(CHECKED["decoder-generate"])
    trace = build_trace(sc)
    assert len(trace.generated) == 4 and all(t in sc.vocab for t in trace.generated)
    assert sum(s.id.endswith(".filter") for s in trace.steps) == 4
    assert trace.quiz == [{"step": "gen.1.sample", "ask": "Which token comes first?", "answer": "a",
                           "tolerance": 0.0, "why": ""}]


# ------------------------------------------------------------------ the starters' commented sections

@pytest.mark.parametrize("kind,section", [("mlp", "optim"), ("decoder", "generate")])
def test_the_starters_commented_section_loads_when_uncommented(kind, section):
    text = template(kind).replace("__NAME__", "s")
    lines = text.splitlines()
    start = lines.index(next(ln for ln in lines if ln.startswith(f"# {section}:")))
    block = []
    for ln in lines[start:]:
        if not ln.startswith("#"):
            break
        block.append(ln[2:])
    sc = parse_scenario(text + "\n" + "\n".join(block) + "\n")
    assert getattr(sc, section) is not None


def test_load_scenario_from_a_file_keeps_the_marks(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(DEC + "generate:\n  top_k: 2\n  max_new_tokens: 2\n", encoding="utf-8")
    sc = load_scenario(path)
    assert sc.marks["model.kind"] == (3, 3) and sc.marks["generate.top_k"] == (11, 3)
