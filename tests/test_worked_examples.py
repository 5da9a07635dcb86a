"""Each step's `worked` line: one entry of its output recomputed from its own inputs, numbers bound."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.engine.examples import worked_line
from stepper.scenario import load_scenario
from stepper.trace import Tensor

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def steps(name: str) -> dict:
    return {s.id: s for s in build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml"))).steps}


def last_number(line: str) -> float:
    return float(re.findall(r"=\s*(−?[\d.e+-]+)\s*(?::|$)", line)[-1].replace("−", "-"))


def test_the_attention_steps_of_mini_are_worked_out_with_their_own_numbers():
    s = steps("mini")
    scale = s["fwd.L0.attn.scale"].bindings["worked"]
    # the largest score, divided by √d_k = 2 (d_model 4, one head)
    assert scale == "S'[am, am] = S[am, am] / √4 = −1.227 / 2 = −0.6137"
    assert s["fwd.L0.attn.mask"].bindings["worked"].endswith("no key is hidden here, so every score passes unchanged")
    softmax = s["fwd.L0.attn.softmax"].bindings["worked"]
    a = s["fwd.L0.attn.softmax"].outputs["A"].value
    assert softmax.startswith("A[am, I] = e^(S_masked[am, I]) / Σ_k e^(S_masked[am, k])")
    assert abs(last_number(softmax) - a[1, 0]) < 1e-4
    q = s["fwd.L0.attn.q"].bindings["worked"]
    assert q.startswith("Q[I, d0] = X[I, :]·W_Q[:, d0] + b_Q[d0] = ")
    assert abs(last_number(q) - s["fwd.L0.attn.q"].outputs["Q"].value[0, 0]) < 1e-4


def test_a_causal_mask_is_worked_out_on_a_hidden_entry():
    line = steps("char_gpt")["fwd.L0.attn.h0.mask"].bindings["worked"]
    assert "+ (−∞) = −∞" in line and "is hidden from query" in line and "e^−∞ = 0" in line


def test_the_road_to_w_q_ends_in_a_worked_weight_gradient():
    step = steps("mini")["bwd.L0.attn.q"]
    line = step.bindings["worked"]
    assert re.match(r"dW_Q\[d\d, d\d\] = Σ_t X\[t, d\d\]·dQ\[t, d\d\] = ", line)
    assert abs(abs(last_number(line)) - np.abs(step.outputs["dW_Q"].value).max()) < 1e-6  # its largest entry


def test_a_layout_it_does_not_know_gets_no_example_rather_than_a_wrong_one():
    x, w = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    inputs = {"X": Tensor("X", x), "W": Tensor("W", w, is_param=True)}
    right = {"Y": Tensor("Y", x @ w)}
    transposed = {"Y": Tensor("Y", x @ w.T)}  # as if W were stored [out, in]
    assert worked_line("forward", "linear", inputs, right, {}) is not None
    assert worked_line("forward", "linear", inputs, transposed, {}) is None
    assert worked_line("forward", "residual", inputs, right, {}) is None
