"""The batched transformer: padded batches against torch autograd, one example against the recorded pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from batched_helpers import batch, scenario, torch_loss_and_grads

from stepper.engine import run
from stepper.engine.batched_transformer import BatchedTransformer

EXAMPLES = [["a", "c", "b", "d", "e"], ["b", "e"], ["c", "c", "a"], ["g", "f", "e", "d"]]
LABELS = [0, 2, 1, 1]

CONFIGS = {
    "encoder post mean": {},
    "encoder pre final last relu": {"norm": "pre", "final_norm": True, "pooling": "last", "activation": "relu"},
    "encoder none first learned unscaled": {"norm": "none", "pooling": "first", "positional": "learned",
                                            "attention_scale": False},
    "encoder no bias, no positions": {"bias": False, "head_bias": False, "positional": "none", "n_heads": 4},
    "decoder post": {"kind": "decoder"},
    "decoder pre final learned gelu_tanh": {"kind": "decoder", "norm": "pre", "final_norm": True,
                                            "positional": "learned", "activation": "gelu_tanh"},
    "decoder tied": {"kind": "decoder", "tie_embeddings": True, "n_layers": 1},
    "encoder tanh": {"activation": "tanh"},
    "encoder square, pre": {"activation": "square", "norm": "pre"},
    "decoder sigmoid": {"kind": "decoder", "activation": "sigmoid"},
    "decoder exp, no activation-free bias": {"kind": "decoder", "activation": "exp", "bias": False},
    "encoder linear FFN": {"activation": "none"},
    "encoder concat": {"positional": "concat", "d_pos": 3},
    "decoder pre concat": {"kind": "decoder", "norm": "pre", "positional": "concat"},
}


def _assert_close(got: dict, want: dict, tol: float) -> None:
    assert list(got) == list(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert np.max(np.abs(got[name] - want[name]), initial=0.0) <= tol, name


@pytest.mark.parametrize("config", CONFIGS.values(), ids=list(CONFIGS))
def test_padded_batch_matches_torch_autograd(tmp_path, config):
    sc = scenario(tmp_path, **config)
    b = batch(sc, EXAMPLES, LABELS)
    assert b.pad.any()
    loss, grads, running = BatchedTransformer(sc).loss_and_grads(sc.params, b)
    want_loss, want_grads = torch_loss_and_grads(sc, b)
    assert abs(loss - want_loss) <= 1e-10
    _assert_close(grads, want_grads, 1e-10)
    assert running is None  # LayerNorm keeps no statistics


@pytest.mark.parametrize("config", CONFIGS.values(), ids=list(CONFIGS))
def test_one_unpadded_example_is_the_recorded_pass(tmp_path, config):
    sc = scenario(tmp_path, **config)
    labels = [sc.task.label_index] if sc.task.kind == "classify" else None
    loss, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, batch(sc, [list(sc.tokens)], labels))
    want_loss, want_grads = run.loss_and_grads(sc, sc.params)
    assert abs(loss - want_loss) <= 1e-12
    _assert_close(grads, {name: want_grads.get(name, np.zeros_like(p)) for name, p in sc.params.items()}, 1e-12)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_padded_batch_combines_its_examples_as_the_loss_says(tmp_path, kind):
    """classify: the mean over examples; next_token: the mean over every target of the batch."""
    sc = scenario(tmp_path, kind=kind, pooling="last")
    model = BatchedTransformer(sc)
    loss, grads, _ = model.loss_and_grads(sc.params, batch(sc, EXAMPLES, LABELS))
    alone = [model.loss_and_grads(sc.params, batch(sc, [ex], [lab])) for ex, lab in zip(EXAMPLES, LABELS, strict=True)]
    weights = np.ones(len(EXAMPLES)) if kind == "encoder" else np.array([len(ex) - 1 for ex in EXAMPLES], float)
    weights /= weights.sum()
    assert abs(loss - sum(w * one[0] for w, one in zip(weights, alone, strict=True))) <= 1e-12
    _assert_close(grads, {name: sum(w * one[1][name] for w, one in zip(weights, alone, strict=True)) for name in grads}, 1e-12)


def test_every_parameter_has_a_gradient_in_scenario_order(tmp_path):
    sc = scenario(tmp_path, positional="learned", max_len=8)
    _, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, batch(sc, [["a", "b"]], [0]))
    assert list(grads) == list(sc.params)
    assert not grads["embed.pos"][2:].any()  # positions no example reached
    assert not grads["embed.tok"][5:].any()  # tokens no example used


def test_evaluate_counts_the_argmax_hits(tmp_path):
    sc = scenario(tmp_path)
    model = BatchedTransformer(sc)
    b = batch(sc, EXAMPLES, LABELS)
    loss, n_correct = model.evaluate(sc.params, b, None)
    assert loss == pytest.approx(model.loss_and_grads(sc.params, b)[0], abs=1e-15)
    _, logits = _torch_logits(sc, b)
    assert n_correct == int((logits.argmax(axis=1) == np.array(LABELS)).sum())
    dec = scenario(tmp_path, "d", kind="decoder")
    assert BatchedTransformer(dec).evaluate(dec.params, batch(dec, EXAMPLES), None)[1] is None


def _torch_logits(sc, b):
    import torch
    from batched_helpers import torch_batch_loss

    loss, logits = torch_batch_loss(sc, {k: torch.tensor(v) for k, v in sc.params.items()}, b)
    return loss.item(), logits.detach().numpy()


def test_last_pooling_reads_the_last_non_pad_row_of_one_sequence_too(tmp_path):
    """A single `input` ending in <pad> pools its last real token, as the same example in a padded batch;
    the torch reference agrees with the recorded pass."""
    from stepper.verify.entry import checked

    sc = scenario(tmp_path, pooling="last")
    padded = dataclasses.replace(sc, tokens=["a", "c", "b", "<pad>", "<pad>"])
    loss, grads = run.loss_and_grads(padded, padded.params)
    unpadded = BatchedTransformer(sc).loss_and_grads(sc.params, batch(sc, [["a", "c", "b"]], [sc.task.label_index]))
    assert abs(loss - unpadded[0]) <= 1e-12
    _, verdicts = checked(padded)
    assert verdicts.totals.ok
