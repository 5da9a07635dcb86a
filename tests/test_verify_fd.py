"""Finite differences against the torch reference's gradients, across model variants.

Each difference needs only the loss, so it is taken of the engine's forward pass (`loss_fn`, as
`check --fd` does): torch's whole autograd graph per perturbed entry made this the slowest test by far.
The engine's loss equals torch's to round-off (test_reference.py), far below these tolerances, so a
wrong reference gradient is caught all the same."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from stepper.engine import loss_fn
from stepper.scenario import parse_scenario
from stepper.verify.fd import finite_difference_check
from stepper.verify.reference import torch_reference

VARIANTS = {
    "post-gelu": {},
    "pre-tanh-learned": {"norm": "pre", "activation": "gelu_tanh", "positional": "learned", "max_len": 4},
    "none-noscale-first": {"norm": "none", "attention_scale": False, "pooling": "first", "bias": False},
    "final-norm-last": {"final_norm": True, "pooling": "last", "n_layers": 2, "head_bias": False},
}


def sc_of(model: dict, tokens, task):
    base = {"kind": "encoder", "d_model": 4, "n_heads": 2, "d_ff": 4}
    doc = {"name": "f", "model": {**base, **model},
           "input": {"vocab": ["<pad>", "a", "b", "c"], "tokens": tokens}, "task": task,
           "weights": {"seed": 3, "init": {"std": 0.6, "bias_std": 0.2}}}
    return parse_scenario(yaml.safe_dump(doc))


@pytest.mark.parametrize("variant", VARIANTS)
def test_reference_grads_agree_with_finite_differences(variant):
    sc = sc_of(VARIANTS[variant], ["a", "<pad>", "c"], {"kind": "classify", "classes": ["x", "y"], "label": "y"})
    report = finite_difference_check(sc, loss_fn(sc), torch_reference(sc).grads)
    assert report.ok, report.summary()
    assert report.n_checked == sum(v.size for v in sc.params.values())


def test_decoder_tied_with_pad_targets():
    sc = sc_of({"kind": "decoder", "tie_embeddings": True, "norm": "pre"}, ["a", "b", "<pad>", "c"],
               {"kind": "next_token"})
    report = finite_difference_check(sc, loss_fn(sc), torch_reference(sc).grads)
    assert report.ok, report.summary()


def test_wrong_gradient_is_caught_and_located():
    sc = sc_of({}, ["a", "b"], {"kind": "classify", "classes": ["x", "y"], "label": "x"})
    grads = {name: g.copy() for name, g in torch_reference(sc).grads.items()}
    grads["layers.0.ffn.W_1"][2, 1] += 1e-3
    report = finite_difference_check(sc, loss_fn(sc), grads)
    assert not report.ok
    assert report.worst_param == "layers.0.ffn.W_1" and report.worst_index == (2, 1)
    assert report.per_param["layers.0.ffn.W_1"].worst_index == (2, 1)
    assert "MISMATCH" in report.summary()


def test_sampling_is_seeded_and_capped():
    def loss(p):
        return float(np.sum(p["w"] ** 3))

    sc = dataclasses.make_dataclass("S", ["params"])({"w": np.linspace(-1, 1, 6000).reshape(60, 100)})
    grads = {"w": 3 * sc.params["w"] ** 2}
    a = finite_difference_check(sc, loss, grads, seed=1)
    b = finite_difference_check(sc, loss, grads, seed=1)
    assert a.ok and a.n_checked == 20 and a.worst_index == b.worst_index
    assert finite_difference_check(sc, loss, grads, max_entries_per_param=5).n_checked == 5
    with pytest.raises(KeyError, match="no analytic gradient"):
        finite_difference_check(sc, loss, {})
