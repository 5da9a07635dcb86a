"""`input.tokenizer`: word and char split as before; bpe learns the same merges on every run, whatever the
threads, splits a known text into known pieces, and its step is checked by an independent recount."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.export.json_trace import trace_dict
from stepper.scenario import parse_scenario
from stepper.scenario.bpe import learn_bpe
from stepper.scenario.tokenize import CHAR, WORD
from stepper.trace_keys import BPE_COUNTS, BPE_IDS, BPE_SOURCE_IDS
from stepper.verify.reference_bpe import bpe_reference

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["the cat sat on the mat", "the cat ate the rat", "a bat sat on a hat"]


def load(text: str = "the cat sat on the mat", vocab_size: int = 25, extra: str = ""):
    return parse_scenario(f"name: t\nmodel: {{kind: decoder, d_model: 4}}\ninput:\n  text: {text}\n"
                          f"  tokenizer: bpe\n  bpe: {{vocab_size: {vocab_size}}}\n{extra}", "t.yaml")


def test_word_and_char_split_as_they_always_did():
    assert WORD.split(" I  am\thappy ") == ["I", "am", "happy"]
    assert CHAR.split("a b") == ["a", " ", "b"]


def test_bpe_merges_the_most_frequent_pair_first_and_breaks_ties_by_the_vocab_order():
    """By hand: `at` stands in cat, sat, mat, cat, ate, rat, bat, sat, hat (9); then `h e`, `t he`, `▁ the` (4 each —
    of the pairs seen 4 times, (h, e) has the smallest ids: h and e come before t and ▁ in the sorted vocab)."""
    bpe, _ = learn_bpe(TEXTS, 40, 1, ("<pad>",))
    assert bpe.vocab[:14] == ("<pad>", "<unk>", "a", "b", "c", "e", "h", "m", "n", "o", "r", "s", "t", "▁")
    assert bpe.merges[:4] == (("a", "t"), ("h", "e"), ("t", "he"), ("▁", "the"))
    assert bpe.counts[:4] == (9, 4, 4, 4)
    assert bpe.vocab[14:18] == ("at", "he", "the", "▁the")  # merge r makes entry 14 + r


def test_bpe_splits_a_known_text_into_known_pieces():
    _, pieces = learn_bpe(TEXTS, 40, 1, ("<pad>",))
    assert pieces("the cats sat") == ["▁the", "▁cat", "s", "▁sat"]  # an unseen word: known pieces
    assert pieces("the dog") == ["▁the", "▁", "<unk>", "o", "<unk>"]  # unseen letters: <unk>
    assert pieces("<pad> the") == ["<pad>", "▁the"]  # a special token stays whole


def test_a_vocab_size_the_pairs_cannot_fill_stops_when_they_run_out():
    bpe, _ = learn_bpe(["ab ab"], 100, 1, ("<pad>",))
    assert bpe.merges == (("a", "b"), ("▁", "ab")) and len(bpe.vocab) == 7 and bpe.vocab_size == 100


def test_min_frequency_leaves_rarer_pairs_unmerged():
    bpe, _ = learn_bpe(TEXTS, 40, 4, ("<pad>",))
    assert min(bpe.counts) >= 4 and bpe.merges == (("a", "t"), ("h", "e"), ("t", "he"), ("▁", "the"))


MERGES = ("import json, sys; from stepper.scenario.bpe import learn_bpe; "
          f"b, split = learn_bpe({TEXTS!r} * 3 + ['aaaa aaa abab'], 60, 1, ('<pad>', '<bos>', '<eos>')); "
          "print(json.dumps([b.vocab, b.merges, b.counts, split('the cats abab')]))")


def test_bpe_learns_the_same_merges_on_every_run_and_under_any_number_of_threads():
    """Each run is a new process (the trainer's hash maps get new seeds), with 1, 2 or 4 rayon threads."""
    runs = {subprocess.run([sys.executable, "-c", MERGES], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "RAYON_NUM_THREADS": str(n), "PYTHONPATH": str(ROOT)}).stdout
            for n in (1, 2, 4, 2)}
    assert len(runs) == 1 and json.loads(runs.pop())[1]


def test_the_scenario_reads_the_pieces_and_the_vocab_it_learned():
    sc = load()
    assert sc.tokens == ["▁the", "▁cat", "▁sat", "▁on", "▁the", "▁mat"]
    assert sc.vocab == list(sc.bpe.vocab) and sc.vocab[:2] == ["<pad>", "<unk>"]


def test_validation_text_is_split_with_what_training_learned():
    sc = load(extra="optim: {kind: sgd}\ndata:\n  examples: [{text: the cat sat}]\n"
                    "  validation: [{text: the dog sat}]\n")
    assert "d" not in sc.vocab and "▁dog" not in sc.vocab
    assert sc.data.validation[0].tokens[:3] == ("▁the", "▁", "<unk>")
    assert sc.bpe.texts == ("the cat sat on the mat", "the cat sat")


def test_the_tokenize_step_comes_first_and_the_reference_agrees_with_it():
    sc = load()
    tr = build_trace(sc)
    step = tr.steps[0]
    assert step.id == "fwd.tokenize" and tr.steps[1].id == "fwd.embed"
    assert step.outputs["count"].rows[0] == "1 a+t" and step.outputs["ids"].cols == sc.tokens
    ref = bpe_reference(sc)
    np.testing.assert_array_equal(step.outputs["count"].value, ref[BPE_COUNTS])
    np.testing.assert_array_equal(step.outputs["ids"].value, ref[BPE_IDS])


def test_the_reference_catches_a_merge_that_was_not_the_most_frequent():
    """Swap the first merge (a + t, 3 times) for a rarer pair: the recount's best is still 3, and the merges'
    own replayed counts no longer agree with it."""
    import dataclasses

    from stepper.scenario.bpe import replay_counts, training_words

    sc = load()
    wrong = (("o", "n"), *sc.bpe.merges[1:])
    counts = replay_counts(training_words(list(sc.bpe.texts), ("<pad>",)), wrong)
    bad = dataclasses.replace(sc, bpe=dataclasses.replace(sc.bpe, merges=wrong, counts=tuple(counts)))
    assert counts[0] == 1 and bpe_reference(bad)[BPE_COUNTS][0, 0] == 3


def test_the_reference_resplits_pieces_that_are_not_bpe_s_own():
    sc = load()
    sc.tokens[:1] = ["▁", "the"]  # the same text, split otherwise: the ids the reference makes differ
    assert len(bpe_reference(sc)[BPE_IDS]) == len(sc.tokens) - 1


def test_a_seq2seq_splits_both_sides_and_keeps_bos_and_eos_whole():
    sc = parse_scenario("name: t\nmodel: {kind: seq2seq, d_model: 4}\ninput:\n  source_text: i love pizza\n"
                        "  target_text: <bos> me gusta la pizza <eos>\n  tokenizer: bpe\n  bpe: {vocab_size: 40}\n",
                        "t.yaml")
    assert sc.vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert sc.source_tokens == ["▁i", "▁love", "▁pizza"]
    assert sc.tokens == ["<bos>", "▁me", "▁gusta", "▁la", "▁pizza", "<eos>"]
    step = build_trace(sc).steps[0]
    ref = bpe_reference(sc)
    np.testing.assert_array_equal(step.outputs["source_ids"].value, ref[BPE_SOURCE_IDS])
    np.testing.assert_array_equal(step.outputs["ids"].value, ref[BPE_IDS])


def test_the_json_export_has_the_tokenizer_and_the_merges_step():
    d = trace_dict(build_trace(load()))
    tok = d["tokenizer"]
    assert tok["kind"] == "bpe" and tok["vocab_size"] == 24 and tok["vocab_size_asked"] == 25
    assert tok["merges"][0] == {"rank": 1, "pair": ["a", "t"], "piece": "at", "count": 3}
    assert d["steps"][0]["id"] == "fwd.tokenize" and d["steps"][0]["keys"]["count"] == BPE_COUNTS
    assert "tokenizer" not in trace_dict(build_trace(parse_scenario(
        "name: t\nmodel: {kind: decoder, d_model: 4}\ninput: {text: a b a}\n", "t.yaml")))


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_check_passes_and_the_export_shows_the_merges(fmt, tmp_path):
    path = ROOT / "scenarios" / "tokens_bpe.yaml"
    check = subprocess.run([sys.executable, "-m", "stepper", "check", "-q", str(path)], cwd=ROOT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    out = subprocess.run([sys.executable, "-m", "stepper", "export", str(path), "--format", fmt, "--no-verify"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "fwd.tokenize" in out and "1 a+t" in out


def test_the_verdict_of_the_merges_names_the_recount_not_torch():
    from stepper.present.verdicts import check_line
    from stepper.verify.entry import checked
    from stepper.verify.verdicts import RECOUNT

    trace, verdicts = checked(load())
    check = verdicts["fwd.tokenize"]
    assert check.ok and check.compared and check.reference == RECOUNT
    assert "ours − a plain-Python recount" in check_line(trace.steps[0], check)
    assert verdicts["fwd.embed"].reference != RECOUNT


def test_on_a_longer_text_every_merge_takes_a_most_frequent_pair():
    """Random words over three letters (so `aaa`-like runs, whose pairs overlap, are common): the trainer's
    merges replayed give, at every rank, the largest pair count the reference recounts."""
    import random

    from stepper.scenario.bpe import training_words
    from stepper.verify.reference_bpe import _best_counts

    rng = random.Random(0)
    text = " ".join("".join(rng.choice("aab") for _ in range(rng.randint(1, 7))) for _ in range(400))
    bpe, _ = learn_bpe([text], 120, 1, ("<pad>",))
    assert len(bpe.merges) > 50
    assert list(bpe.counts) == _best_counts(training_words([text], ("<pad>",)), bpe.merges)
