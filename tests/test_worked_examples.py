"""Each step's `worked` line: one entry of its output recomputed from its own inputs, numbers bound."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.present.worked import worked_line
from stepper.present.worked_entries import entry_line
from stepper.scenario import load_scenario
from stepper.trace import Tensor

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def steps(name: str) -> dict:
    return {s.id: s for s in build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml"))).steps}


def last_number(line: str) -> float:
    return float(re.findall(r"[=≈]\s*(−?[\d.]+)\s*(?::|$)", line)[-1].replace("−", "-"))


def test_the_attention_steps_of_mini_are_worked_out_with_their_own_numbers():
    s = steps("mini")
    scale = worked_line(s["fwd.L0.attn.scale"])
    # the largest score, divided by √d_k = 2 (d_model 4, one head)
    assert scale == "S'[am, am] = S[am, am] / √4 = −1.227 / 2 ≈ −0.6137"  # ≈: the operands are rounded
    assert worked_line(s["fwd.L0.attn.mask"]).endswith("no key is hidden here, so every score passes unchanged")
    softmax = worked_line(s["fwd.L0.attn.softmax"])
    a = s["fwd.L0.attn.softmax"].outputs["A"].value
    # as the formula does, less the row's max: every term at most 1
    assert softmax.startswith("A[am, I] = e^(S_masked[am, I] − m) / Σ_k e^(S_masked[am, k] − m), with m = the row's max")
    assert abs(last_number(softmax) - a[1, 0]) < 1e-4
    q = worked_line(s["fwd.L0.attn.q"])
    assert q.startswith("Q[am, d1] = X[am, :]·W_Q[:, d1] + b_Q[d1] = ")  # Q's largest entry
    assert abs(last_number(q) - s["fwd.L0.attn.q"].outputs["Q"].value[1, 1]) < 1e-3  # 4 digits


def test_a_causal_mask_is_worked_out_on_a_hidden_entry():
    line = worked_line(steps("char_gpt")["fwd.L0.attn.h0.mask"])
    assert "+ (−∞) = −∞" in line and "is hidden from query" in line and "e^−∞ = 0" in line


def test_in_a_causal_model_the_worked_score_is_one_the_mask_keeps_and_a_space_shows():
    s = steps("char_gpt")
    for h in (0, 1):
        step = s[f"fwd.L0.attn.h{h}.scores"]
        value, scores = last_number(worked_line(step)), step.outputs["S"].value
        # the entry worked is among the rows and columns shown, with its key no later than its query
        assert any(abs(scores[i, j] - value) < 1e-3 for i in range(6) for j in range(i + 1)), step.id
    assert "[ ," not in " ".join(st.bindings.get("worked", "") for st in s.values())  # a space is ␣


def test_every_linear_step_is_worked_out_vectors_and_the_tied_head_too():
    for name in ("mlp_by_hand", "mini", "char_gpt", "xor_gelu"):
        for step in steps(name).values():
            if step.stage == "linear" and step.phase in ("forward", "backward"):
                assert worked_line(step), (name, step.id)
    tied = steps("char_gpt")
    assert re.match(r"logits\[.+\] = h\[.+, :\]·embed\.tok\[.+, :\]", worked_line(tied["fwd.head"]))
    assert "Σ_t dz[t, " in worked_line(tied["bwd.head"])
    xor = worked_line(steps("xor_gelu")["fwd.L0.linear"])
    assert not xor.endswith("≈ 0")  # the largest entry shown, not the first one (an input of zeros)


def test_the_road_to_w_q_ends_in_a_worked_weight_gradient():
    step = steps("mini")["bwd.L0.attn.q"]
    line = worked_line(step)
    assert re.match(r"dW_Q\[d\d, d\d\] = Σ_t X\[t, d\d\]·dQ\[t, d\d\] = ", line)
    assert abs(abs(last_number(line)) - np.abs(step.outputs["dW_Q"].value).max()) < 1e-6  # its largest entry


def test_a_layout_it_does_not_know_gets_no_example_rather_than_a_wrong_one():
    x, w = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    inputs = {"X": Tensor("X", x), "W": Tensor("W", w, is_param=True)}
    right = {"Y": Tensor("Y", x @ w)}
    transposed = {"Y": Tensor("Y", x @ w.T)}  # as if W were stored [out, in]
    assert entry_line("forward", "linear", inputs, right, {}) is not None
    assert entry_line("forward", "linear", inputs, transposed, {}) is None
    assert entry_line("forward", "residual", inputs, right, {}) is None


def test_a_worked_line_is_made_when_first_shown_and_survives_a_pickle():
    """A check shows no step, so it makes none (1,800 of them on a GPT-2-small shape); the app's reader
    hands the trace over pickled, and the line must still come out the same on the other side. The
    line lives beside the step, never in it: the step the engine returned is not changed by showing it."""
    import pickle

    from stepper.present import worked
    from stepper.verify import checked

    trace, _ = checked(load_scenario(str(SCENARIOS / "mini.yaml")))
    assert not any(step in worked._MADE for step in trace.steps)
    scale = next(s for s in trace.steps if s.id == "fwd.L0.attn.scale")
    before = pickle.dumps(scale)
    copy = pickle.loads(pickle.dumps(trace))
    line = worked_line(next(s for s in copy.steps if s.id == "fwd.L0.attn.scale"))
    assert line is not None and line == worked_line(scale) and "worked" not in scale.bindings
    assert pickle.dumps(scale) == before


def test_the_residual_the_layernorm_and_the_gradients_through_attention_are_worked_out_too():
    s = steps("mini")
    assert worked_line(s["fwd.L0.res1"]).startswith("R[am, d1] = X[am, d1] + Attn[am, d1] = ")
    assert worked_line(s["fwd.L0.ln1"]).startswith("row I: μ = ")
    assert worked_line(s["bwd.L0.res1.merge"]).endswith("the paths' gradients add up")
    softmax = worked_line(s["bwd.L0.attn.softmax"])
    assert "·(dA[I, I] − Σ_k dA[I, k]·A[I, k])" in softmax
    assert worked_line(s["bwd.L0.attn.scale"]) == "dS[I, I] = dS'[I, I] / √4 = 0.01035 / 2 ≈ 0.005175"


def test_cosine_attention_steps_have_worked_lines_that_recompute_their_entry():
    from stepper.engine import build_trace
    from stepper.present.worked import worked_line
    from stepper.scenario import parse_scenario

    trace = build_trace(parse_scenario("""
name: c
model: {kind: encoder, d_model: 4, n_heads: 2, attention: cosine}
input: {tokens: [I, am]}
task: {kind: classify, classes: [a, b], label: a}
"""))
    lines = {s.id.rsplit(".", 1)[1]: worked_line(s) for s in trace.steps if s.id.startswith("fwd.L0.attn.h0.")}
    assert lines["normalize_q"].startswith("Q̂[") and "/ ‖Q[" in lines["normalize_q"]
    assert lines["normalize_k"].startswith("K̂[") and "/ ‖K[" in lines["normalize_k"]
    assert lines["scores"].startswith("S[") and "Q̂[" in lines["scores"] and "K̂[" in lines["scores"]
    assert lines["scale"].startswith("S'[") and "/ τ = " in lines["scale"] and "/ 0.1 ≈" in lines["scale"]
