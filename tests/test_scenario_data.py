"""`data:` and the training keys: what a file with a data set resolves to (the exact semantics the
engine and the reference train on), and the training cost refused up front."""

from __future__ import annotations

import json
import math

import pytest

from stepper.scenario import ScenarioError, load_scenario, parse_scenario

ENCODER = """\
name: t
model: {kind: encoder, d_model: 4}
task: {kind: classify, classes: [neg, pos]}
data:
  examples:
    - {text: "I am happy", label: pos}
    - {tokens: [I, am, sad], label: neg}
    - {text: "so sad", label: neg}
  validation:
    - {text: "very happy", label: pos}
%s
optim: {kind: adamw, epochs: 4}
"""


def test_the_first_example_is_traced_when_there_is_no_input():
    sc = parse_scenario(ENCODER % "", "t.yaml")
    assert sc.tokens == ["I", "am", "happy"] and sc.task.label == "pos"
    assert [ex.line for ex in sc.data.examples] == [6, 7, 8] and sc.data.validation[0].line == 10
    assert sc.data.examples[1].tokens == ("I", "am", "sad") and sc.data.examples[1].label == "neg"


def test_a_derived_vocab_holds_pad_and_every_token_of_every_example():
    sc = parse_scenario(ENCODER % "", "t.yaml")
    assert sc.vocab == ["<pad>", "I", "am", "happy", "sad", "so", "very"]


def test_input_when_given_is_the_traced_example():
    text = ENCODER.replace("task: {kind: classify, classes: [neg, pos]}",
                           "input: {text: I am}\ntask: {kind: classify, classes: [neg, pos], label: neg}")
    sc = parse_scenario(text % "", "t.yaml")
    assert sc.tokens == ["I", "am"] and sc.task.label == "neg" and len(sc.data.examples) == 3


@pytest.mark.parametrize("batch,expected", [("", 3), ("  batch_size: 2", 2), ("  batch_size: 50", 3)])
def test_batch_size_defaults_to_all_and_more_than_n_is_one_batch_of_all(batch, expected):
    sc = parse_scenario(ENCODER % batch, "t.yaml")
    assert sc.data.batch_size == expected
    assert sc.optim.epochs == 4 and sc.optim.steps == 4 * math.ceil(3 / expected)
    assert sc.data.shuffle is False and sc.data.seed == 0


def test_epochs_without_data_are_steps_of_the_traced_example():
    sc = parse_scenario("name: t\nmodel: {kind: mlp, sizes: [2, 1]}\ninput: {features: [[0, 1], [1, 0]]}\n"
                        "task: {target: [1, 0]}\noptim: {kind: sgd, epochs: 7}\n", "t.yaml")
    assert sc.optim.steps == 7 and sc.optim.epochs == 7


@pytest.mark.parametrize("kind,written,expected", [("adamw", "", 0.01), ("adam", "", 0.0), ("sgd", "", 0.0),
                                                   ("adamw", ", weight_decay: 0", 0.0),
                                                   ("momentum", ", weight_decay: 0.5", 0.5)])
def test_weight_decay_defaults_by_kind(kind, written, expected):
    sc = parse_scenario(f"name: t\nmodel: {{kind: mlp, sizes: [2, 1]}}\ninput: {{features: [1, 0]}}\n"
                        f"task: {{target: [1]}}\noptim: {{kind: {kind}{written}}}\n", "t.yaml")
    assert sc.optim.weight_decay == expected and sc.optim.clip_grad_norm is None
    assert (sc.optim.schedule.kind, sc.optim.schedule.warmup) == ("constant", 0)


def test_the_training_keys_resolve_and_the_config_is_json():
    text = ENCODER.replace("optim: {kind: adamw, epochs: 4}",
                           "optim:\n  kind: adamw\n  beta2: 0.99\n  clip_grad_norm: 0.5\n  epochs: 2\n"
                           "  schedule: {kind: cosine, warmup: 100}\n")
    text = text.replace("{kind: encoder, d_model: 4}", "{kind: encoder, d_model: 4, norm_type: batch, dropout: 0.25}")
    sc = parse_scenario(text % "  batch_size: 2\n  shuffle: true\n  seed: 5", "t.yaml")
    o = sc.optim
    assert (o.kind, o.beta2, o.clip_grad_norm, o.steps, o.epochs) == ("adamw", 0.99, 0.5, 4, 2)
    assert (o.schedule.kind, o.schedule.warmup) == ("cosine", 100)  # a warm-up past the run is allowed
    assert sc.model.norm_type == "batch" and sc.model.dropout == 0.25
    assert sc.data.shuffle and sc.data.seed == 5
    config = json.loads(json.dumps(sc.config_dict()))
    assert config["data"]["examples"][1] == {"tokens": ["I", "am", "sad"], "label": "neg"}
    assert config["optim"]["schedule"] == {"kind": "cosine", "warmup": 100}


def test_an_mlp_data_set_traces_its_first_example():
    sc = parse_scenario("name: t\nmodel: {kind: mlp, sizes: [2, 1]}\ntask: {kind: regress}\ndata:\n"
                        "  examples:\n    - {features: [0, 1], target: [1]}\n    - {features: [1, 1], target: 0}\n"
                        "optim: {kind: adam, steps: 3}\n", "t.yaml")
    assert sc.features == (0.0, 1.0) and sc.task.target == (1.0,)
    assert sc.data.examples[1].features == (1.0, 1.0) and sc.data.examples[1].target == (0.0,)


def test_a_token_not_in_the_vocab_names_the_example_and_points_at_it():
    text = ENCODER.replace("task:", "input: {vocab: [\"<pad>\", I, am, happy, sad, so]}\ntask:")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text % "", "t.yaml")
    assert (err.value.line, "`very` of data.validation[0]") == (11, "`very` of data.validation[0]")
    assert "`very` of data.validation[0] is not in the vocab" in err.value.message


def test_an_explicit_vocab_without_pad_is_fine_when_nothing_is_padded():
    text = ENCODER.replace("task:", "input: {vocab: [I, am, happy, sad, so, very]}\ntask:")
    text = text.replace('    - {text: "so sad", label: neg}\n', "")
    sc = parse_scenario(text % "", "t.yaml")  # two 3-token examples; one validation example
    assert "<pad>" not in sc.vocab


def test_batchnorm_refuses_a_batch_of_one_row():
    text = ("name: t\nmodel: {kind: decoder, d_model: 4, norm_type: batch}\ndata:\n  examples:\n"
            "    - {text: a b c}\n    - {text: a b}\n  batch_size: 1\noptim: {kind: sgd}\n")
    with pytest.raises(ScenarioError, match="BatchNorm cannot estimate") as err:
        parse_scenario(text, "t.yaml")
    assert err.value.line == 6


BENCH = """\
name: bench
model: {kind: decoder, d_model: 32, n_heads: 4, n_layers: 2, d_ff: 128, positional: learned, max_len: 16}
data:
  examples:
%s
  batch_size: 8
optim: {kind: adamw, steps: 500, clip_grad_norm: 1.0, schedule: {kind: cosine, warmup: 50}}
"""


def test_the_issue_benchmark_fits_the_training_limit():
    rows = "\n".join(f"    - {{tokens: [{', '.join(f'w{(i * 7 + j) % 97}' for j in range(8 + i % 9))}]}}"
                     for i in range(64))
    sc = parse_scenario(BENCH % rows, "bench.yaml")
    assert sc.optim.steps == 500 and len(sc.data.examples) == 64


def test_a_training_run_too_slow_is_refused_at_its_updates_unless_forced():
    # few parameters (the kept history is small), but 1000 positions × 10000 updates
    text = ("name: t\nmodel: {kind: decoder, d_model: 16, n_heads: 2, d_ff: 32}\n"
            f"input: {{text: {' '.join(['a', 'b'] * 500)}}}\noptim:\n  kind: sgd\n  steps: 10000\n")
    with pytest.raises(ScenarioError, match="too slow to train: updates × batch_size") as err:
        parse_scenario(text, "t.yaml")
    assert err.value.line == 6 and "--force" in err.value.message
    assert parse_scenario(text, "t.yaml", force=True).optim.steps == 10000


@pytest.mark.parametrize("name", ["tiny_sentiment_train", "tiny_lm_train"])
def test_the_training_scenarios_load(name):
    sc = load_scenario(f"scenarios/{name}.yaml")
    assert sc.optim.kind == "adamw" and sc.data.validation and sc.data.batch_size == 4
    assert sc.optim.steps == sc.optim.epochs * math.ceil(len(sc.data.examples) / 4)


def test_batchnorm_refuses_a_traced_example_of_one_row():
    text = "name: t\nmodel: {kind: encoder, d_model: 4, norm_type: batch}\ninput: {tokens: [I]}\n" \
           "task: {classes: [a, b], label: a}\n"
    with pytest.raises(ScenarioError, match="BatchNorm cannot estimate") as err:
        parse_scenario(text, "t.yaml")
    assert err.value.line == 3
    parse_scenario(text.replace("[I]", "[I, am]"), "t.yaml")
