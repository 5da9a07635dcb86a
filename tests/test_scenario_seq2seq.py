"""The encoder-decoder (`kind: seq2seq`) as the loader reads it: a complete Scenario from a valid file,
and a located error, saying what to write instead, for each way its keys go wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stepper.scenario import ScenarioError, load_scenario, parse_scenario, with_generation
from stepper.scenario.limits import build_cost, over_limit, training_over_limit
from stepper.scenario.params import init_param, param_specs

MALFORMED = Path(__file__).parent / "malformed"
BASE = """\
name: translate
model:
  kind: seq2seq
  d_model: 4
  n_heads: 2
  n_layers: 2
  d_ff: 8
{model}input:
{input}
{rest}"""
PAIR = '  source: [I, love, pizza]\n  target: ["<bos>", me, encanta, la, pizza, "<eos>"]'


def load(model: str = "", input: str = PAIR, rest: str = ""):
    return parse_scenario(BASE.format(model=model, input=input, rest=rest), "s.yaml")


def refused(text_or_kwargs) -> ScenarioError:
    with pytest.raises(ScenarioError) as err:
        load(**text_or_kwargs) if isinstance(text_or_kwargs, dict) else parse_scenario(text_or_kwargs, "s.yaml")
    return err.value


def test_a_seq2seq_file_loads_into_a_complete_scenario():
    sc = load()
    assert sc.model.kind == "seq2seq" and sc.task.kind == "seq2seq"  # the task's default for this kind
    assert sc.model.n_dec_layers == 2  # n_layers when not given
    assert sc.source_tokens == ["I", "love", "pizza"]
    assert sc.tokens == ["<bos>", "me", "encanta", "la", "pizza", "<eos>"]
    # derived: <pad>, <bos>, <eos>, then the sorted tokens of source and target, each once
    assert sc.vocab == ["<pad>", "<bos>", "<eos>", "I", "encanta", "la", "love", "me", "pizza"]
    assert sc.config_dict()["source"] == ["I", "love", "pizza"]
    assert len(sc.params["embed.tok"]) == len(sc.vocab) and sc.params["head.W"].shape == (4, len(sc.vocab))


def test_the_text_forms_split_by_the_tokenizer():
    sc = load(input='  source_text: "ab"\n  target_text: "<bos> b a <eos>"')
    assert sc.source_tokens == ["ab"] and sc.tokens == ["<bos>", "b", "a", "<eos>"]
    sc = load(input='  source_text: "ab"\n  target: ["<bos>", b, a]\n  tokenizer: char')
    assert sc.source_tokens == ["a", "b"]


def test_eos_is_not_required():
    assert load(input='  source: [a]\n  target: ["<bos>", b]').tokens == ["<bos>", "b"]


EXPECTED_ORDER = [
    "embed.tok", "embed.pos",
    *(f"encoder.layers.0.attn.{w}_{m}" for m in "QKVO" for w in "Wb"), "encoder.layers.0.ln1.gamma",
    "encoder.layers.0.ln1.beta", "encoder.layers.0.ffn.W_1", "encoder.layers.0.ffn.b_1", "encoder.layers.0.ffn.W_2",
    "encoder.layers.0.ffn.b_2", "encoder.layers.0.ln2.gamma", "encoder.layers.0.ln2.beta",
    "encoder.ln_f.gamma", "encoder.ln_f.beta",
    *(f"decoder.layers.0.self_attn.{w}_{m}" for m in "QKVO" for w in "Wb"), "decoder.layers.0.ln1.gamma",
    "decoder.layers.0.ln1.beta",
    *(f"decoder.layers.0.cross_attn.{w}_{m}" for m in "QKVO" for w in "Wb"), "decoder.layers.0.ln2.gamma",
    "decoder.layers.0.ln2.beta", "decoder.layers.0.ffn.W_1", "decoder.layers.0.ffn.b_1", "decoder.layers.0.ffn.W_2",
    "decoder.layers.0.ffn.b_2", "decoder.layers.0.ln3.gamma", "decoder.layers.0.ln3.beta",
    "decoder.ln_f.gamma", "decoder.ln_f.beta", "head.W", "head.b",
]


def test_parameters_have_the_contract_names_in_the_documented_order():
    sc = parse_scenario(BASE.format(model="  final_norm: true\n  positional: learned\n  max_len: 6\n",
                                    input=PAIR, rest="").replace("n_layers: 2", "n_layers: 1"), "s.yaml")
    assert list(sc.params) == EXPECTED_ORDER
    v, d, f = len(sc.vocab), 4, 8
    shapes = {"embed.tok": (v, d), "embed.pos": (6, d), "head.W": (d, v), "head.b": (v,),
              "decoder.layers.0.cross_attn.W_K": (d, d), "decoder.layers.0.ffn.W_1": (d, f),
              "decoder.layers.0.ln3.gamma": (d,), "encoder.layers.0.ffn.b_1": (f,)}
    for name, shape in shapes.items():
        assert sc.params[name].shape == shape, name


def test_pre_norm_and_no_norm_place_the_norms_as_for_the_other_kinds():
    pre = list(load(model="  norm: pre\n  n_dec_layers: 1\n").params)
    assert pre.index("decoder.layers.0.ln2.gamma") < pre.index("decoder.layers.0.cross_attn.W_Q")
    assert pre.index("encoder.layers.1.ln1.gamma") < pre.index("encoder.layers.1.attn.W_Q")
    none = load(model="  norm: none\n").params
    assert not [n for n in none if ".ln" in n]
    assert [n for n in none if n.startswith("decoder.layers.")][-1] == "decoder.layers.1.ffn.b_2"


def test_initial_values_are_seeded_by_name_as_for_the_other_kinds():
    a, b = load(rest="weights: {seed: 7}"), load(rest="weights: {seed: 7}")
    for name, value in a.params.items():
        assert np.array_equal(value, b.params[name])
    w = a.params["decoder.layers.1.cross_attn.W_V"]
    assert np.array_equal(w, init_param("decoder.layers.1.cross_attn.W_V", (4, 4), "normal", 7, 0.5))
    assert np.array_equal(a.params["decoder.layers.0.ln3.gamma"], np.ones(4))


def test_n_dec_layers_and_tied_embeddings():
    sc = load(model="  n_dec_layers: 3\n  tie_embeddings: true\n")
    assert sc.model.n_dec_layers == 3 and sc.model.n_layers == 2
    assert "decoder.layers.2.cross_attn.W_O" in sc.params and "decoder.layers.3.ffn.W_1" not in sc.params
    assert "encoder.layers.2.attn.W_Q" not in sc.params
    assert "head.W" not in sc.params and "head.b" not in sc.params
    assert param_specs(sc.model, len(sc.vocab), len(sc.vocab)).keys() == sc.params.keys()


def test_explicit_values_by_the_new_names():
    eye = "[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]"
    sc = load(model="  final_norm: true\n", rest=f"weights:\n  values:\n    decoder.layers.1.cross_attn.W_Q: {eye}\n"
                                                "    encoder.ln_f.gamma: [1, 2, 3, 4]\n")
    assert np.array_equal(sc.params["decoder.layers.1.cross_attn.W_Q"], np.eye(4))
    assert sc.params["encoder.ln_f.gamma"].tolist() == [1, 2, 3, 4]
    err = refused({"rest": "weights:\n  values:\n    encoder.layers.0.ffn.W_2: [[1, 2], [3, 4]]"})
    assert (err.line, err.col) == (13, 31) and "expected [8, 4] (d_ff × d_model), got [2, 2]" in err.message


@pytest.mark.parametrize("name,fix", [("decoder.layers.0.attn.W_Q", "decoder.layers.0.self_attn.W_Q"),
                                      ("layers.1.attn.b_O", "encoder.layers.1.attn.b_O"),
                                      ("layers.0.ln3.beta", "decoder.layers.0.ln3.beta")])
def test_a_name_from_another_kind_suggests_the_seq2seq_name(name, fix):
    err = refused({"rest": f"weights:\n  values:\n    {name}: [1]"})
    assert err.line == 13 and f"did you mean `{fix}`?" in err.message


def test_the_other_kinds_suggest_their_names_for_seq2seq_ones():
    text = "name: e\nmodel: {kind: encoder}\ninput: {tokens: [a]}\ntask: {classes: [x, y], label: x}\n" \
           "weights:\n  values:\n    encoder.layers.0.attn.W_Q: [1]\n"
    assert "did you mean `layers.0.attn.W_Q`?" in refused(text).message


@pytest.mark.parametrize("file,fragment", [
    ("seq2seq_n_dec_layers_on_encoder", "it is for `kind: seq2seq`"),
    ("seq2seq_pooling", "nothing is pooled"),
    ("seq2seq_tokens", "use `source:` (or `source_text:`) and `target:`"),
    ("seq2seq_source_on_decoder", "`source` does not apply to `kind: decoder`"),
    ("seq2seq_target_without_bos", "the target starts with `me`, but a target starts with `<bos>`"),
    ("seq2seq_token_not_in_vocab", "token `la` of the target (position 3) is not in the vocab"),
    ("seq2seq_missing_target", "a seq2seq needs `input.target:`"),
    ("seq2seq_target_bos_only", "`<bos>` alone"),
    ("seq2seq_source_longer_than_max_len", "the encoder read 4 tokens but max_len is 3"),
    ("seq2seq_task_classify", "a seq2seq model does `task.kind: seq2seq`"),
    ("seq2seq_task_on_encoder", "`seq2seq` is not a task of `model.kind: encoder`"),
    ("seq2seq_task_target", "a seq2seq's answer is its target sequence"),
    ("seq2seq_source_and_source_text", "gives `source:` and `source_text:`"),
    ("seq2seq_source_first_pad", "the source starts with `<pad>`"),
    ("seq2seq_target_all_pad", "every predicted token of the target is `<pad>`"),
    ("seq2seq_tokenizer_without_text", "there is neither"),
    ("seq2seq_data_example_no_source", "data.examples[1] has no source"),
    ("seq2seq_data_target_number", "the target of data.examples[0] is `0.5`, not a list of tokens"),
    ("seq2seq_data_vocab_without_pad", "add \"<pad>\" to `input.vocab`"),
    ("seq2seq_data_target_without_bos", "the target of data.examples[1] starts with `me`"),
    ("seq2seq_weight_wrong_shape", "expected [4, 4] (d_model × d_model), got [3, 3]"),
    ("seq2seq_weight_unknown_name", "did you mean `decoder.layers.0.self_attn.W_Q`?"),
    ("seq2seq_generate_past_max_len", "the decoder starts from `<bos>` and `max_new_tokens: 6`"),
])
def test_each_malformed_seq2seq_file_says_what_is_wrong(file, fragment):
    with pytest.raises(ScenarioError) as err:
        load_scenario(MALFORMED / f"{file}.yaml")
    assert fragment in err.value.message


def test_the_target_side_and_position_are_located():
    err = refused({"input": '  source: [a, b]\n  target: ["<bos>", b, c]\n  vocab: ["<pad>", "<bos>", a, b]'})
    assert (err.line, err.col) == (10, 24) and "token `c` of the target (position 2)" in err.message
    err = refused({"input": '  source: [a, x]\n  target: ["<bos>", b]\n  vocab: ["<pad>", "<bos>", a, b]'})
    assert (err.line, err.col) == (9, 15) and "token `x` of the source (position 1)" in err.message


def test_max_len_counts_the_source_and_the_target_but_its_last():
    fits = load(model="  positional: learned\n  max_len: 5\n")  # source 3, target 6 → the decoder reads 5
    assert fits.model.max_len == 5
    err = refused({"model": "  positional: learned\n  max_len: 4\n"})
    assert err.line == 12 and "the decoder read 5 tokens (all of the target but the last)" in err.message


def test_data_examples_train_a_seq2seq_and_the_first_is_traced_without_input():
    rest = """data:
  examples:
    - {source: [a, b], target: ["<bos>", x, "<eos>"]}
    - {source_text: "b", target_text: "<bos> y y <eos>"}
  validation:
    - {source: [a], target: ["<bos>", z]}
  batch_size: 2
optim: {kind: adam, epochs: 2}
"""
    sc = load(input="  tokenizer: word", rest=rest)
    assert sc.source_tokens == ["a", "b"] and sc.tokens == ["<bos>", "x", "<eos>"]
    assert sc.vocab == ["<pad>", "<bos>", "<eos>", "a", "b", "x", "y", "z"]
    ex = sc.data.examples[1]
    assert ex.source == ("b",) and ex.tokens == ("<bos>", "y", "y", "<eos>") and ex.line == 13
    assert sc.data.validation[0].as_dict() == {"tokens": ["<bos>", "z"], "source": ["a"]}
    assert sc.optim.steps == 2
    with_input = load(rest=rest)  # `input` given: it is the traced example
    assert with_input.source_tokens == ["I", "love", "pizza"] and "encanta" in with_input.vocab


def test_a_written_vocab_needs_pad_when_sources_differ_in_length():
    rest = """data:
  examples:
    - {source: [a, b], target: ["<bos>", x]}
    - {source: [a], target: ["<bos>", y]}
optim: {}
"""
    err = refused({"input": '  vocab: ["<bos>", a, b, x, y]', "rest": rest})
    assert err.line == 9 and "data.examples[1] is not as long" in err.message
    assert load(input='  vocab: ["<pad>", "<bos>", a, b, x, y]', rest=rest).vocab[0] == "<pad>"


def test_batchnorm_needs_two_rows_in_each_stack():
    err = refused({"model": "  norm_type: batch\n", "input": '  source: [a]\n  target: ["<bos>", b, c]'})
    assert err.line == 10 and "the encoder reads one position" in err.message


def test_generation_decodes_from_bos_and_is_checked_against_max_len():
    sc = load(model="  positional: learned\n  max_len: 5\n", rest="generate: {max_new_tokens: 5, greedy: true}")
    assert sc.generate.max_new_tokens == 5 and sc.generate.greedy
    assert with_generation(sc, max_new_tokens=4).generate.max_new_tokens == 4
    with pytest.raises(ScenarioError) as err:
        with_generation(sc, max_new_tokens=6)
    assert "--max-new-tokens 6" in err.value.message and "starts from `<bos>`" in err.value.message
    assert with_generation(load(), top_k=2).generate.top_k == 2


def test_seq2seq_sizes_count_both_stacks_and_blame_the_longer_sequence():
    sc = load()
    small = build_cost(sc)
    longer = load(input='  source: [' + ", ".join(["I"] * 40) + ']\n  target: ["<bos>", me]')
    assert build_cost(longer) > small
    message, blame = over_limit(longer.model, 9, "seq2seq", 0, 1, limit=10_000, n_source=4000)
    assert "n_layers × 5 × n_heads × source²" in message and blame[0] == ("input", "source")
    message, blame = over_limit(sc.model, 9, "seq2seq", 0, 4000, limit=10_000, n_source=3)
    assert "target × (target + source)" in message and blame[0] == ("input", "target")
    assert training_over_limit(sc.model, 9, 9, 5, 1, 10, n_source=3) is None
    assert training_over_limit(sc.model, 9, 9, 5, 1, 10, n_source=10**6, work_limit=10**9) is not None


def test_the_doc_names_every_seq2seq_parameter_and_its_example_means_what_it_says():
    doc = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    for name in ["encoder.layers.{i}.attn.W_Q", "encoder.layers.{i}.ln1.gamma", "encoder.layers.{i}.ffn.W_1",
                 "encoder.ln_f.gamma", "decoder.layers.{i}.self_attn.W_Q", "decoder.layers.{i}.cross_attn.W_Q",
                 "decoder.layers.{i}.ln1", "ln3", "decoder.layers.{i}.ffn.W_1", "decoder.ln_f.gamma"]:
        assert f"`{name}" in doc, name
    section = doc.split("## An encoder-decoder (seq2seq)", 1)[1]
    sc = parse_scenario(section.split("```yaml\n", 1)[1].split("```", 1)[0], "doc.yaml")
    assert sc.vocab[:3] == ["<pad>", "<bos>", "<eos>"] and sc.model.n_dec_layers == 1 and sc.generate.greedy
    assert sc.tokens[0] == "<bos>" and sc.source_tokens == ["I", "love", "pizza"]


def test_a_char_split_bos_is_explained():
    err = refused({"input": '  source_text: "ab"\n  target_text: "<bos>ba"\n  tokenizer: char'})
    assert err.line == 10 and "splits `<bos>` in `target_text` into characters" in err.message
