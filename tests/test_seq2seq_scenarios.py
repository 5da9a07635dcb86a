"""What scenarios/README.md claims of the two encoder–decoder files, recomputed from their traces."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@cache
def trace(name: str):
    return build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml")))


def step(name: str, step_id: str):
    tr = trace(name)
    return tr.steps[tr.index_of(step_id)]


def test_pizza_seq2seq_has_the_three_masks_of_the_three_kinds():
    enc = step("pizza_seq2seq", "fwd.enc.L0.attn.mask").inputs["M"].value
    causal = step("pizza_seq2seq", "fwd.dec.L0.self.mask").inputs["M"].value
    cross = step("pizza_seq2seq", "fwd.dec.L0.cross.mask").inputs["M"].value
    assert enc.shape == (3, 3) and (enc == 0).all()  # the encoder's: nothing blocked
    np.testing.assert_array_equal(np.isfinite(causal), np.tril(np.ones((4, 4), dtype=bool)))  # the decoder's
    assert cross.shape == (4, 3) and (cross == 0).all()  # cross-attention: every target token sees the source
    # the same words as the pizza twins: the decoder reads "<bos> I love", the encoder's sentence is the source
    assert trace("pizza_seq2seq").config["source"] == ["I", "love", "pizza"]
    assert trace("pizza_decoder").tokens[:4] == trace("pizza_seq2seq").tokens[:4]


def test_translate_by_hand_cross_attention_reads_5_target_rows_against_3_source_columns():
    a = step("translate_by_hand", "fwd.dec.L0.cross.softmax").outputs["A"]
    assert a.rows == ["<bos>", "me", "encanta", "la", "pizza"] and a.cols == ["I", "love", "pizza"]
    np.testing.assert_allclose(a.value.sum(axis=1), 1.0, atol=1e-15)
    q_in = step("translate_by_hand", "fwd.dec.L0.cross.q").inputs["X"]
    k_in = step("translate_by_hand", "fwd.dec.L0.cross.k").inputs["X"]
    assert q_in.key == "dec.L0.ln1" and k_in.key == "enc.L0.ln2"  # Q from the decoder, K from the memory


def test_the_memory_gradient_is_the_sum_of_the_k_and_v_parts():
    merge = step("translate_by_hand", "bwd.enc.memory.merge")
    parts = [t.value for t in merge.inputs.values()]
    assert list(merge.inputs) == ["dM_K0", "dM_V0"]
    np.testing.assert_allclose(next(iter(merge.outputs.values())).value, parts[0] + parts[1], atol=1e-15)
