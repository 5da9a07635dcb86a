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
    return float(re.findall(r"[=≈]\s*(−?[\d.]+)\s*(?::|$)", line)[-1].replace("−", "-"))


def test_the_attention_steps_of_mini_are_worked_out_with_their_own_numbers():
    s = steps("mini")
    scale = s["fwd.L0.attn.scale"].worked()
    # the largest score, divided by √d_k = 2 (d_model 4, one head)
    assert scale == "S'[am, am] = S[am, am] / √4 = −1.227 / 2 ≈ −0.6137"  # ≈: the operands are rounded
    assert s["fwd.L0.attn.mask"].worked().endswith("no key is hidden here, so every score passes unchanged")
    softmax = s["fwd.L0.attn.softmax"].worked()
    a = s["fwd.L0.attn.softmax"].outputs["A"].value
    # as the formula does, less the row's max: every term at most 1
    assert softmax.startswith("A[am, I] = e^(S_masked[am, I] − m) / Σ_k e^(S_masked[am, k] − m), with m = the row's max")
    assert abs(last_number(softmax) - a[1, 0]) < 1e-4
    q = s["fwd.L0.attn.q"].worked()
    assert q.startswith("Q[am, d1] = X[am, :]·W_Q[:, d1] + b_Q[d1] = ")  # Q's largest entry
    assert abs(last_number(q) - s["fwd.L0.attn.q"].outputs["Q"].value[1, 1]) < 1e-3  # 4 digits


def test_a_causal_mask_is_worked_out_on_a_hidden_entry():
    line = steps("char_gpt")["fwd.L0.attn.h0.mask"].worked()
    assert "+ (−∞) = −∞" in line and "is hidden from query" in line and "e^−∞ = 0" in line


def test_in_a_causal_model_the_worked_score_is_one_the_mask_keeps_and_a_space_shows():
    s = steps("char_gpt")
    for h in (0, 1):
        step = s[f"fwd.L0.attn.h{h}.scores"]
        value, scores = last_number(step.worked()), step.outputs["S"].value
        # the entry worked is among the rows and columns shown, with its key no later than its query
        assert any(abs(scores[i, j] - value) < 1e-3 for i in range(6) for j in range(i + 1)), step.id
    assert "[ ," not in " ".join(st.bindings.get("worked", "") for st in s.values())  # a space is ␣


def test_every_linear_step_is_worked_out_vectors_and_the_tied_head_too():
    for name in ("mlp_by_hand", "mini", "char_gpt", "xor_gelu"):
        for step in steps(name).values():
            if step.stage == "linear" and step.phase in ("forward", "backward"):
                assert step.worked(), (name, step.id)
    tied = steps("char_gpt")
    assert re.match(r"logits\[.+\] = h\[.+, :\]·embed\.tok\[.+, :\]", tied["fwd.head"].worked())
    assert "Σ_t dz[t, " in tied["bwd.head"].worked()
    xor = steps("xor_gelu")["fwd.L0.linear"].worked()
    assert not xor.endswith("≈ 0")  # the largest entry shown, not the first one (an input of zeros)


def test_the_road_to_w_q_ends_in_a_worked_weight_gradient():
    step = steps("mini")["bwd.L0.attn.q"]
    line = step.worked()
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


def test_a_worked_line_is_made_when_first_shown_and_survives_a_pickle():
    """A check shows no step, so it makes none (1,800 of them on a GPT-2-small shape); the app's reader
    hands the trace over pickled, and the line must still come out the same on the other side."""
    import pickle

    from stepper.commands.checked import checked_trace

    trace, _ = checked_trace(load_scenario(str(SCENARIOS / "mini.yaml")))
    scale = next(s for s in trace.steps if s.id == "fwd.L0.attn.scale")
    assert scale.make_worked is not None and "worked" not in scale.bindings
    copy = pickle.loads(pickle.dumps(trace))
    line = next(s for s in copy.steps if s.id == "fwd.L0.attn.scale").worked()
    assert line == scale.worked() == scale.bindings["worked"] and scale.make_worked is None


def test_the_residual_the_layernorm_and_the_gradients_through_attention_are_worked_out_too():
    s = steps("mini")
    assert s["fwd.L0.res1"].worked().startswith("R[am, d1] = X[am, d1] + Attn[am, d1] = ")
    assert s["fwd.L0.ln1"].worked().startswith("row I: μ = ")
    assert s["bwd.L0.res1.merge"].worked().endswith("the paths' gradients add up")
    softmax = s["bwd.L0.attn.softmax"].worked()
    assert "·(dA[I, I] − Σ_k dA[I, k]·A[I, k])" in softmax
    assert s["bwd.L0.attn.scale"].worked() == "dS[I, I] = dS'[I, I] / √4 = 0.01035 / 2 ≈ 0.005175"
