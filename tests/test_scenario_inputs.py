"""What a scenario file may say and what it means: friendlier inputs, YAML that must load, limits."""

from __future__ import annotations

import numpy as np
import pytest

from stepper.scenario import ScenarioError, limits, load_scenario, parse_scenario

HEAD = "name: t\nmodel:\n  kind: encoder\n  d_model: 4\n"
CLASSIFY = "task:\n  classes: [negative, positive]\n  label: positive\n"


def load(text: str, **kw):
    return parse_scenario(text, "t.yaml", **kw)


def test_text_split_into_words_and_vocab_derived_sorted_with_pad_first():
    sc = load(HEAD + "input:\n  text: the cat saw the dog\n" + CLASSIFY)
    assert sc.tokens == ["the", "cat", "saw", "the", "dog"]
    assert sc.vocab == ["<pad>", "cat", "dog", "saw", "the"]
    assert sc.task.label == "positive" and sc.task.label_index == 1


def test_text_split_into_characters():
    sc = load(HEAD + "input:\n  text: abba\n  tokenizer: char\n" + CLASSIFY)
    assert sc.tokens == ["a", "b", "b", "a"] and sc.vocab == ["<pad>", "a", "b"]


def test_words_stay_as_written_not_as_yaml_types():
    sc = load(HEAD + "input:\n  tokens: [yes, no, 010, 1.50, null]\ntask:\n  classes: [0, 1]\n  label: 1\n")
    assert sc.tokens == ["yes", "no", "010", "1.50", "null"]
    assert sc.task.classes == ("0", "1") and sc.task.label == "1"


def test_numbers_and_dates_read_as_a_learner_means_them():
    sc = load("name: t\ntitle: 2024-01-01\nmodel:\n  norm_eps: 1e-5\ninput:\n  tokens: [a]\n" + CLASSIFY)
    assert sc.title == "2024-01-01" and sc.model.norm_eps == 1e-5


def test_bom_and_crlf_load_like_plain_lf(tmp_path):
    text = HEAD + "input:\n  tokens: [I, am]\n" + CLASSIFY
    plain, crlf = tmp_path / "plain.yaml", tmp_path / "crlf.yaml"
    plain.write_bytes(text.encode())
    crlf.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    a, b = load_scenario(plain), load_scenario(crlf)
    assert (a.tokens, a.vocab, a.task) == (b.tokens, b.vocab, b.task)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_anchors_aliases_and_merge_keys_load():
    sc = load("""
x-base: &base {kind: encoder, d_model: 4, n_heads: 2, d_ff: 8}
name: t
model:
  <<: *base
  d_model: 8          # an explicit key wins over the merged one
input:
  vocab: &words ["<pad>", a, b]
  tokens: [a, b]
task: {classes: [p, q], label: q}
weights:
  values:
    layers.0.ln1.gamma: &ones [1, 1, 1, 1, 1, 1, 1, 1]
    layers.0.ln2.gamma: *ones
""")
    assert (sc.model.d_model, sc.model.n_heads, sc.model.d_ff) == (8, 2, 8)
    assert sc.vocab == ["<pad>", "a", "b"]
    assert np.array_equal(sc.params["layers.0.ln2.gamma"], np.ones(8))


def test_an_empty_section_means_its_defaults():
    sc = load(HEAD + "input:\n  tokens: [a]\n" + CLASSIFY + "weights:\n  # seed: 3\nlessons:\n")
    assert sc.lessons == {} and sc.params["embed.tok"].shape == (2, 4)


def test_explicit_values_replace_only_their_own_parameter():
    base = HEAD + "input:\n  tokens: [a, b]\n" + CLASSIFY
    a = load(base)
    b = load(base + "weights:\n  values:\n    layers.0.attn.W_Q: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n")
    assert np.array_equal(b.params["layers.0.attn.W_Q"], np.eye(4))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params if k != "layers.0.attn.W_Q")


def test_learned_positions_take_max_len_from_an_explicit_embed_pos():
    sc = load(HEAD + "  positional: learned\ninput:\n  tokens: [a, b]\n" + CLASSIFY
              + "weights:\n  values:\n    embed.pos: [[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]]\n")
    assert sc.model.max_len == 3 and sc.params["embed.pos"].shape == (3, 4)


def test_lessons_map_step_patterns_to_text():
    sc = load(HEAD + "input:\n  tokens: [a]\n" + CLASSIFY + "lessons:\n  fwd.*.attn.*: |\n    two\n    lines\n")
    assert sc.lessons == {"fwd.*.attn.*": "two\nlines\n"}


def test_a_model_over_the_limit_is_refused_with_the_figure_and_the_limit_unless_forced(monkeypatch):
    monkeypatch.setattr(limits, "MEMORY_LIMIT", 2**20)
    text = HEAD.replace("d_model: 4", "d_model: 64") + "  d_ff: 1024\ninput:\n  tokens: [a]\n" + CLASSIFY
    with pytest.raises(ScenarioError) as err:
        load(text)
    msg = str(err.value)
    assert msg.startswith("t.yaml:5:9: error: too big to step through: n_layers × 2 × d_model × d_ff")
    assert "= 1 × 2 × 64 × 1024 = 131,072 parameters" in msg and "over the limit of 1.0 MiB" in msg
    assert "--force" in msg
    assert load(text, force=True).params["layers.0.ffn.W_1"].shape == (64, 1024)


def test_the_limit_is_at_most_half_this_machines_memory():
    assert 0 < limits.memory_limit() <= limits.CAP
