"""The present layer (stepper/present/) is the one place a Trace becomes words; the Trace only holds data."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from stepper.engine import build_trace
from stepper.present.roles import symbol_roles
from stepper.scenario import load_scenario
from stepper.trace import Divergence, Formula, Step, Trace

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
# what an id's format would be read by: its parts split off or matched by prefix/suffix
READS_AN_ID = re.compile(r"(?:\.id|step_id)\.(?:split|rsplit|partition|rpartition|startswith|endswith)\(|gen\\\.\(")


def test_step_ids_are_read_only_where_they_are_made():
    """`gen.3.sample` is split once, by the recorder; every view reads Step.part and Step.token."""
    readers = {str(path.relative_to(ROOT)) for path in (ROOT / "stepper").rglob("*.py")
               if READS_AN_ID.search(path.read_text())}
    assert readers == {"stepper/engine/record.py"}


def test_generation_steps_carry_their_token_and_part():
    steps = build_trace(load_scenario(str(SCENARIOS / "char_gpt.yaml"))).steps
    gen = {s.id: (s.token, s.part) for s in steps if s.phase == "generate"}
    assert gen["gen.prefill"] == (1, "prefill")  # the prefill's logits are token 1's
    assert gen["gen.2.decode"] == (2, "decode") and gen["gen.3.sample"] == (3, "sample")
    assert gen["gen.text"] == (None, "text")
    assert all(s.token is None for s in steps if s.phase != "generate")


def test_every_role_a_formula_declares_names_an_array_of_the_step():
    """Roles are data beside each stage's formula; read against a step they name that step's own arrays,
    and none is dead: each declared role finds its array in some step of these scenarios (a role may
    find nothing in one step, e.g. db where a layer has no bias)."""
    from stepper.present.roles import _resolve

    found: dict[tuple, bool] = {}
    for name in ("mini", "char_gpt", "xor_gelu", "mlp_by_hand", "sqrt_dk_unscaled", "pizza_encoder", "norm_pre"):
        for step in build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml"))).steps:
            for symbol, array in symbol_roles(step):
                assert symbol in dict(step.formula.roles), (step.id, symbol)
                assert array in step.inputs or array in step.outputs, (step.id, symbol, array)
            for symbol, where in step.formula.roles:
                key = (step.stage, step.phase, step.formula.plain, symbol, where)
                hit = _resolve(where, list(step.inputs), list(step.outputs)) is not None
                found[key] = found.get(key, False) or hit
    assert found and not [key for key, hit in found.items() if not hit]


def test_every_declared_role_is_a_place_the_reader_knows():
    from stepper.engine import activation, embedding, linear, loss, mask, residual, softmax

    formulas = [f for module in (embedding, linear, loss, mask, residual, softmax)
                for f in vars(module).values() if isinstance(f, Formula)]
    formulas += [*activation.FORMULAS.values(), *activation.GRAD_FORMULAS.values()]
    places = re.compile(r"(?:in|out) (?:\d+|d\(in \d+\)|\S+\*|\S+)")
    declared = [where for f in formulas for _, where in f.roles]
    assert len(declared) >= 20 and all(places.fullmatch(where) for where in declared)


def test_the_trace_holds_data_and_no_words():
    """What a step is called, where an input came from, why training diverged: said by stepper/present."""
    for owner, words in ((Step, ("worked", "symbol_roles", "own_formula", "shape_line", "shapes")),
                         (Trace, ("made_by", "stale_lesson", "verified")), (Divergence, ("words",)),
                         (importlib.import_module("stepper.trace"), ("visible_token", "visible_label", "reference_name"))):
        assert not [w for w in words if hasattr(owner, w)], owner


def test_the_engine_binds_plain_values_and_the_present_layer_says_what_they_mean():
    """τ = 0, top-k 0 and no mask are recorded as values; the words beside them are said here."""
    from stepper.present.captions import shown_bindings
    from stepper.scenario.load import parse_scenario

    dec = parse_scenario("name: d\nmodel: {kind: decoder, d_model: 4, n_heads: 2, positional: learned, max_len: 6}\n"
                         "input: {tokens: [a, b, c]}\ngenerate: {max_new_tokens: 1, temperature: 0, top_p: 0.9}\n")
    steps = {s.id: s for s in build_trace(dec).steps}
    temperature = steps["gen.1.temperature"]
    assert temperature.bindings["τ"] == "0"
    assert shown_bindings(temperature)["τ"] == "0 (0 = greedy: no division)"
    assert steps["gen.1.filter"].bindings["top_k"] == "0" and shown_bindings(steps["gen.1.filter"])["top_k"] == "off"
    enc = parse_scenario("name: e\nmodel: {kind: encoder}\ninput: {tokens: [I, am]}\n"
                         "task: {classes: [negative, positive], label: positive}\n")
    masked = next(s for s in build_trace(enc).steps if "mask" in s.bindings)
    assert masked.bindings["mask"] == "none"
    assert shown_bindings(masked)["mask"] == "none (every token sees every token)"
