"""Every combination of the model's switches: each step of the engine agrees with the torch reference."""

import itertools

import pytest
import yaml

from stepper.engine import build_trace
from stepper.scenario import parse_scenario
from stepper.verify.compare import check_totals, verify_trace
from stepper.verify.reference import torch_reference

COMBOS = list(itertools.product(["encoder", "decoder"], ["post", "pre", "none"], ["sinusoidal", "learned", "none"]))


def scenario(kind, norm, positional, **extra):
    model = {"kind": kind, "d_model": 4, "n_heads": 2, "n_layers": 2, "d_ff": 6, "norm": norm,
             "positional": positional, **extra}
    task = {"kind": "next_token"} if kind == "decoder" else {"kind": "classify", "classes": ["x", "y"], "label": "y"}
    doc = {"name": "sweep", "model": model, "input": {"tokens": ["a", "b", "<pad>", "c"]}, "task": task,
           "weights": {"seed": 3, "init": {"std": 0.6, "bias_std": 0.2}}}
    return parse_scenario(yaml.safe_dump(doc))


def assert_verified(sc):
    trace = build_trace(sc)
    ref = torch_reference(sc)
    checks = verify_trace(trace, ref)
    bad = [(step_id, c.worst, c.max_abs_err) for step_id, c in checks.items() if not c.ok]
    assert not bad
    assert check_totals(trace, ref).ok


@pytest.mark.parametrize("kind,norm,positional", COMBOS)
def test_every_switch_combination_verifies(kind, norm, positional):
    assert_verified(scenario(kind, norm, positional))


@pytest.mark.parametrize("extra", [
    {"activation": "relu", "pooling": "first"}, {"activation": "gelu_tanh", "pooling": "last"},
    {"bias": False, "head_bias": False}, {"attention_scale": False, "final_norm": True},
    {"activation": "tanh"}, {"activation": "sigmoid", "pooling": "last"}, {"activation": "square"},
    {"activation": "exp"}, {"activation": "none"},
])
def test_encoder_options_verify(extra):
    assert_verified(scenario("encoder", "post", "sinusoidal", **extra))


@pytest.mark.parametrize("extra", [{"tie_embeddings": True, "final_norm": True}, {"bias": False, "n_heads": 4}])
def test_decoder_options_verify(extra):
    assert_verified(scenario("decoder", "pre", "learned", **extra))
