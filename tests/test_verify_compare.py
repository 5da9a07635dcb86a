"""The checker: verdicts, worst entries, slices, infinities and missing keys."""

from __future__ import annotations

import math
from types import SimpleNamespace
from unittest.mock import patch

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepper.scenario import parse_scenario
from stepper.trace import Formula, Step, Tensor, Trace
from stepper.verify import compare
from stepper.verify.compare import check_totals, entry_errors, to_index, verify_trace
from stepper.verify.reference import torch_reference
from stepper.verify.scenario_check import compare_grads_as_made, verify_scenario

F0 = Formula("", "", "")


def reference():
    doc = {"name": "c", "model": {"kind": "decoder", "d_model": 4, "n_heads": 2, "d_ff": 4},
           "input": {"vocab": ["<pad>", "a", "b"], "tokens": ["a", "b", "a"]}, "task": {"kind": "next_token"}}
    sc = parse_scenario(yaml.safe_dump(doc))
    return sc, torch_reference(sc)


def step(id, phase, **outputs):
    return Step(id=id, phase=phase, stage="x", title=id, formula=F0, inputs={}, outputs=outputs)


def trace(steps, ref=None, grads=None):
    return Trace(scenario="c", title="", config={}, steps=steps, loss=ref.loss if ref else 0.0,
                 logits=np.zeros(1), params={}, grads=grads or {})


def test_matching_values_pass_and_name_the_first_output():
    _, ref = reference()
    tr = trace([step("s", "forward", Q=Tensor("Q", ref.get("L0.attn.Q"), key="L0.attn.Q"),
                     K=Tensor("K", ref.get("L0.attn.K"), key="L0.attn.K"))])
    checks = verify_trace(tr, ref)
    c = checks["s"]
    assert c.ok and c.max_abs_err == 0.0 and c.reference == "torch.autograd" and c.tolerance == 1e-10
    assert c.worst == "Q [0, 0]"
    assert list(checks) == ["s"]


def test_worst_entry_and_tolerance():
    _, ref = reference()
    bad = ref.get("d:L0.attn.K").copy()
    bad[1, 2] += 1e-6
    tr = trace([step("b", "backward", dK=Tensor("dK", bad, key="d:L0.attn.K"))])
    c = verify_trace(tr, ref)["b"]
    assert not c.ok and c.worst == "dK [1, 2]" and math.isclose(c.max_abs_err, 1e-6, rel_tol=1e-6)
    assert verify_trace(tr, ref, tol=1e-5)["b"].ok


def test_head_slices_and_json_style_index():
    _, ref = reference()
    s_masked = ref.get("L0.attn.S_masked")
    q = ref.get("L0.attn.Q")
    tr = trace([step("h1", "forward",
                     S=Tensor("S", s_masked[1], key="L0.attn.S_masked", index=(1,)),
                     Q=Tensor("Q_1", q[:, 2:4], key="L0.attn.Q", index=(slice(None), slice(2, 4)))),
                step("h1j", "forward", Q=Tensor("Q_1", q[:, 2:4], key="L0.attn.Q", index=([0, 2], [2, 4])))])
    checks = verify_trace(tr, ref)
    assert list(checks) == ["h1", "h1j"] and all(c.ok for c in checks.values())
    assert to_index(([0, 2], 1, None)) == (slice(0, 2), 1, slice(None))


def test_infinities_and_nan():
    e = entry_errors(np.array([-np.inf, np.inf, 1.0, np.nan, np.nan, 2.0]),
                     np.array([-np.inf, -np.inf, np.inf, np.nan, 1.0, 2.5]))
    assert list(e) == [0.0, math.inf, math.inf, 0.0, math.inf, 0.5]
    _, ref = reference()
    # the causal mask's -inf entries agree with the reference's
    tr = trace([step("m", "forward", S=Tensor("S", ref.get("L0.attn.S_masked"), key="L0.attn.S_masked"))])
    assert verify_trace(tr, ref)["m"].ok and np.isinf(ref.get("L0.attn.S_masked")).any()


def test_nothing_to_compare_missing_key_and_bad_shape():
    _, ref = reference()
    tr = trace([step("n", "forward", X=Tensor("X", np.ones(2))),
                step("m", "backward", G=Tensor("G", np.ones(2), key="d:L9.nope")),
                step("w", "forward", Q=Tensor("Q", np.ones((2, 2)), key="L0.attn.Q"))])
    checks = verify_trace(tr, ref)
    n, m, w = checks.values()
    assert n.ok and n.max_abs_err == 0.0 and n.worst == "nothing to compare"
    assert not m.ok and m.max_abs_err == math.inf and "d:L9.nope" in m.worst
    assert not w.ok and "shape [2, 2]" in w.worst
    assert list(checks) == ["n", "m", "w"]


def test_forward_steps_are_checked_before_backward():
    _, ref = reference()
    order = []

    class Spy:
        def get(self, key):
            order.append(key)
            return ref.get(key)

    tr = trace([step("b", "backward", d=Tensor("d", ref.get("d:x0"), key="d:x0")),
                step("f", "forward", x=Tensor("x", ref.get("x0"), key="x0"))])
    verify_trace(tr, Spy())
    assert order == ["x0", "d:x0"]


def test_totals():
    sc, ref = reference()
    tr = trace([], ref, grads=ref.grads)
    assert check_totals(tr, ref).ok
    grads = dict(ref.grads)
    grads.pop("head.W")
    assert "head.W" in check_totals(trace([], ref, grads=grads), ref).worst


def test_totals_count_a_gradient_a_step_compared_with_the_error_found_there():
    sc, ref = reference()
    grads = {name: g + 3e-13 if name == "head.W" else g for name, g in ref.grads.items()}
    shown = Tensor("dW", grads["head.W"], key="d:head.W")
    tr = trace([step("h", "backward", dW=shown)], ref, grads=grads)
    compared = {}
    verify_trace(tr, ref, compared=compared)
    assert ("d:head.W", id(grads["head.W"])) in compared
    totals = check_totals(tr, ref, compared=compared)
    # compared once, in its step, and still counted: the totals never claim 0 for it
    assert totals.ok and totals.max_abs_err == pytest.approx(3e-13, rel=0.01)
    assert totals.worst.startswith("dhead.W [")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, -2.5, 1e300, math.inf, -math.inf, math.nan]),
                          st.sampled_from([0.0, 1.0, 2.0, -1e300, math.inf, -math.inf, math.nan])),
                min_size=1, max_size=20),
       st.integers(1, 7), st.integers(1, 8))
def test_worst_entry_slice_by_slice_and_part_by_part_matches_the_whole_array(pairs, chunk, split):
    a, b = (np.array(col) for col in zip(*pairs, strict=True))
    full = entry_errors(a, b)
    # a tiny split makes even these short arrays go to the threads, as a large gradient would
    with patch.object(compare, "_CHUNK", chunk), patch.object(compare, "_SPLIT", split):
        err, at = compare.worst_entry(a, b)
    assert err == full.max() and at == int(np.argmax(full))


def test_a_large_comparison_is_shared_between_threads_and_finds_the_same_entry():
    a = np.zeros(3 * compare._SPLIT)
    b = a.copy()
    b[[5, 2 * compare._SPLIT + 7]] = 1e-9  # equal maxima in different parts: the first one is named
    b[compare._SPLIT + 3] = -1e-9
    with patch.object(compare, "_cores", lambda: 3):
        assert compare.worst_entry(a, b) == (1e-9, 5)


def test_the_tuis_check_line_names_a_place_only_where_ours_and_torch_differ_beyond_tolerance():
    from stepper.present.verdicts import check_line
    from stepper.verify.verdicts import NOTHING_TO_COMPARE, Check

    def line(phase="backward", **kw):
        check = Check(**{"reference": "torch.autograd", "tolerance": 1e-10, **kw})
        return check_line(SimpleNamespace(phase=phase), check)

    exact = line(max_abs_err=0.0, ok=True, worst="E [0, 0]")
    # a pass is round-off: one bound whatever its last bits on this machine, and no place named
    assert exact == "✓ max |ours − torch.autograd| < 1e-12 (tolerance 1e-10)"
    assert line(max_abs_err=2e-17, ok=True, worst="dW [1, 3]") == exact
    assert line("forward", max_abs_err=0.0, ok=True, worst="E [0, 0]").startswith("✓ max |ours − torch| < 1e-12")
    assert "|ours − torch.optim|" in line("update", max_abs_err=0.0, ok=True, worst="W [0, 0]")
    # a failure that is not about one entry keeps its words as they are
    assert line(max_abs_err=math.inf, ok=False, worst="dW: shape [2×4] but the reference").endswith(
        "worst at dW: shape [2×4] but the reference")
    assert line(max_abs_err=0.25, ok=False, worst="dW [1, 2]").startswith("✗ OFF:")
    assert line(max_abs_err=0.25, ok=False, worst="dW [1, 2]").endswith("· worst at dW[1,2]")
    assert line(max_abs_err=0.0, ok=True, worst=NOTHING_TO_COMPARE).startswith("· nothing to check")


def test_gradients_compared_as_backward_makes_them_give_the_verdicts_of_the_usual_path():
    from stepper.engine import build_trace

    doc = {"name": "s", "model": {"kind": "decoder", "d_model": 4, "n_heads": 2, "d_ff": 8, "n_layers": 2},
           "input": {"vocab": ["a", "b", "c"], "tokens": ["a", "b", "c", "a"]}, "task": {"kind": "next_token"}}
    sc = parse_scenario(yaml.safe_dump(doc))
    usual, early = build_trace(sc), build_trace(sc)
    ref = torch_reference(sc, given=usual)
    compared = {}
    usual_checks = verify_trace(usual, ref, compared=compared)
    usual_totals = check_totals(usual, ref, compared=compared)
    early = verify_scenario(sc, early)
    assert dict(early) == usual_checks
    assert early.totals == usual_totals and early.totals.ok


def test_a_settled_gradient_is_let_go_and_asking_for_it_says_why():
    sc, _ = reference()
    seen = {}

    def on_grad(name, grad):
        seen[name] = grad.copy()
        return name != "head.W"  # one is kept, as one a step shows in part would be

    ref = torch_reference(sc, on_grad=on_grad)
    assert set(seen) == set(sc.params)
    assert np.array_equal(ref.get("d:head.W"), seen["head.W"])
    with pytest.raises(KeyError, match="compared as the backward pass made it"):
        ref.get("d:embed.tok")
    assert "embed.tok" in ref.param_names


def test_a_gradient_a_step_shows_in_part_is_kept_for_that_step():
    sc, ref = reference()
    grads = dict(ref.grads)
    head_cols = Tensor("dW", grads["layers.0.attn.W_Q"][:, :2], key="d:layers.0.attn.W_Q", index=(slice(None), slice(0, 2)))
    whole = Tensor("dW", grads["head.W"], key="d:head.W")
    tr = trace([step("q", "backward", dW=head_cols), step("h", "backward", dW=whole)], ref, grads=grads)
    compared = {}
    on_grad = compare_grads_as_made(tr, compared)
    assert on_grad("head.W", ref.get("d:head.W")) and ("d:head.W", id(grads["head.W"])) in compared
    assert not on_grad("layers.0.attn.W_Q", ref.get("d:layers.0.attn.W_Q"))


def test_the_settling_hook_holds_no_cycle_that_would_keep_the_reference_alive():
    import weakref

    sc, _ = reference()
    ref = torch_reference(sc, on_grad=lambda name, grad: True)
    node = weakref.ref(ref._g.nodes["embed.tok"])
    del ref
    assert node() is None  # freed by reference counting alone, with no cycle for the collector to find


def test_a_gradient_shown_in_part_is_still_there_when_its_step_is_checked():
    from stepper.engine import build_trace

    doc = {"name": "s", "model": {"kind": "decoder", "d_model": 4, "n_heads": 2, "d_ff": 8},
           "input": {"vocab": ["a", "b", "c"], "tokens": ["a", "b", "c"]}, "task": {"kind": "next_token"}}
    sc = parse_scenario(yaml.safe_dump(doc))
    tr = build_trace(sc)
    whole = tr.grads["layers.0.attn.W_Q"]
    cols = Tensor("dW_Q", whole[:, 2:], key="d:layers.0.attn.W_Q", index=(slice(None), slice(2, 4)))
    tr.steps.append(step("bwd.head1.W_Q", "backward", dW_Q=cols))
    verdicts = verify_scenario(sc, tr)
    assert verdicts.totals.ok and verdicts["bwd.head1.W_Q"].ok and verdicts["bwd.head1.W_Q"].compared
    whole[0, 3] += 1e-3  # a wrong entry in the head's columns is caught there, and in the totals
    verdicts = verify_scenario(sc, tr)
    assert not verdicts.totals.ok and "dW_Q [0, 1]" in verdicts["bwd.head1.W_Q"].worst


def test_large_numbers_are_allowed_rounding_in_proportion_to_their_size():
    from stepper.present.verdicts import check_line

    big = np.array([[9.79e4, -1.2e5], [3.0, 0.5]])
    off_by_rounding = big.copy()
    off_by_rounding[0, 1] += 3.6e-10  # the last digits of a number near 1e5
    out = {"S": Tensor("S", off_by_rounding, key="S")}
    passed = compare.check_outputs(out, {"S": big})
    assert passed.ok and passed.scale == 1.2e5 and passed.tolerance * passed.scale == pytest.approx(1.2e-5)
    assert "tolerance 1e-10 × 1.2e+05, the size of the numbers" in check_line(SimpleNamespace(phase="forward"), passed)
    wrong = big.copy()
    wrong[1, 0] += 1e-3  # a real error stays one, however large its neighbours
    failed = compare.check_outputs({"S": Tensor("S", wrong, key="S")}, {"S": big})
    assert not failed.ok and failed.worst == "S [1, 0]"
    # numbers of ordinary size keep the absolute tolerance, and a pass never pays for the scale
    exact = compare.check_outputs({"S": Tensor("S", big, key="S")}, {"S": big})
    assert exact.ok and exact.scale == 1.0
    small = np.array([0.5, 0.25])
    assert not compare.check_outputs({"x": Tensor("x", small + 2e-10, key="x")}, {"x": small}).ok


def test_a_large_entry_does_not_excuse_a_wrong_small_one():
    ref = np.array([1.0e5, 0.3, -0.2])
    wrong = ref + np.array([3e-10, 1e-6, 0.0])  # the big entry's rounding, and a real error beside it
    check = compare.check_outputs({"z": Tensor("z", wrong, key="z")}, {"z": ref})
    assert not check.ok and check.worst == "z [1]" and check.max_abs_err == pytest.approx(1e-6)
    rounding_only = ref + np.array([3e-10, 0.0, 1e-11])
    assert compare.check_outputs({"z": Tensor("z", rounding_only, key="z")}, {"z": ref}).ok


def test_max_abs_err_stays_the_largest_error_when_a_large_output_is_excused():
    big, small = np.array([2.0e5, 1.0]), np.array([0.5])
    outs = {"A": Tensor("A", big + np.array([1e-6, 0.0]), key="A"), "B": Tensor("B", small + 5e-11, key="B")}
    check = compare.check_outputs(outs, {"A": big, "B": small})
    assert check.ok and check.max_abs_err == pytest.approx(1e-6, rel=1e-3) and check.worst == "A [0]" and check.scale == 2e5
    for masked in (np.array([-np.inf, 1e4, 0.1]),):  # a masked entry is no excuse either
        wrong = masked + np.array([0.0, 0.0, 5e-7])
        assert not compare.check_outputs({"S": Tensor("S", wrong, key="S")}, {"S": masked}).ok
