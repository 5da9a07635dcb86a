"""Transformer batches (padding, next-token targets) and the trainer's transformer path.

The batched transformer itself lives elsewhere; here a small stand-in model records what the trainer
hands it: the padded batches, the dropout masks of each update, and the running statistics threaded
from update to update and on to validation.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from stepper.engine import trainer
from stepper.engine.batches import make_batch
from stepper.scenario.load import load_scenario
from stepper.scenario.types import DataConfig, Example, OptimConfig


def encoder_with_data(dropout: float = 0.0):
    sc = load_scenario("scenarios/mini.yaml")
    ex = [Example(tokens=("I", "am", "happy"), label="positive"), Example(tokens=("I",), label="negative"),
          Example(tokens=("am", "sad"), label="negative"), Example(tokens=("happy",), label="positive"),
          Example(tokens=("I", "am", "sad", "sad"), label="negative")]
    data = DataConfig(examples=tuple(ex), validation=tuple(ex[:2]), batch_size=2, shuffle=True, seed=5)
    return dataclasses.replace(sc, model=dataclasses.replace(sc.model, dropout=dropout), data=data,
                               optim=OptimConfig(kind="adamw", lr=0.1, steps=4, weight_decay=0.01))


def test_a_classify_batch_is_right_padded_with_pad_and_keeps_its_labels():
    sc = encoder_with_data()
    batch = make_batch(sc, sc.data.examples[:3])
    pad = sc.vocab.index("<pad>")
    ids = [[sc.vocab.index(t) for t in ("I", "am", "happy")], [sc.vocab.index("I"), pad, pad],
           [sc.vocab.index("am"), sc.vocab.index("sad"), pad]]
    assert batch.ids.tolist() == ids and batch.size == 3
    assert batch.pad.tolist() == [[False] * 3, [False, True, True], [False, False, True]]
    assert batch.labels.tolist() == [1, 0, 0] and batch.targets is None


def test_a_next_token_batch_splits_each_example_then_pads_and_ignores_pad_targets():
    sc = load_scenario("scenarios/pizza_decoder.yaml")
    sc = dataclasses.replace(sc, vocab=["<pad>", *sc.vocab])
    v = {t: i for i, t in enumerate(sc.vocab)}
    batch = make_batch(sc, [Example(tokens=("<bos>", "I", "love", "pizza")), Example(tokens=("<bos>", "rain")),
                            Example(tokens=("<bos>", "I", "<pad>"))])
    assert batch.ids.tolist() == [[v["<bos>"], v["I"], v["love"]], [v["<bos>"], 0, 0], [v["<bos>"], v["I"], 0]]
    assert batch.targets.tolist() == [[v["I"], v["love"], v["pizza"]], [v["rain"], -1, -1], [v["I"], -1, -1]]
    assert batch.pad.tolist() == [[False] * 3, [False, True, True], [False, False, True]]


def test_an_mlp_batch_stacks_features_with_targets_or_labels():
    sc = load_scenario("scenarios/xor_gelu.yaml")
    batch = make_batch(sc, [Example(features=(0.0, 1.0), target=(1.0,)), Example(features=(1.0, 1.0), target=(0.0,))])
    assert batch.features.tolist() == [[0.0, 1.0], [1.0, 1.0]] and batch.target.tolist() == [[1.0], [0.0]]


class StandInModel:
    """A quadratic loss ½Σw² (so gradients are the weights), recording what the trainer passes in."""

    def __init__(self, sc):
        self.sc, self.calls, self.evaluated = sc, [], []

    def loss_and_grads(self, params, batch, *, masks=None, running=None):
        self.calls.append((batch, masks, running))
        loss = 0.5 * sum(float((w * w).sum()) for w in params.values())
        count = 0 if running is None else running["ln1.0"][0]
        return loss, {n: params[n].copy() for n in self.sc.params}, {"ln1.0": (count + 1, batch.size)}

    def evaluate(self, params, batch, running):
        self.evaluated.append((batch.size, running))
        return 0.5, 1


@pytest.fixture
def stand_in(monkeypatch):
    made = []

    def factory(sc):
        made.append(StandInModel(sc))
        return made[-1]

    monkeypatch.setattr(trainer, "batched_model", factory)
    return made


def test_the_transformer_path_threads_running_statistics_and_pads_each_batch(stand_in, monkeypatch):
    monkeypatch.setattr(trainer, "_dropout_module", lambda: pytest.fail("no masks without dropout"))
    sc = encoder_with_data()
    log = trainer.fit(sc)
    model = stand_in[0]
    assert [c[2] for c in model.calls] == [None, {"ln1.0": (1, 2)}, {"ln1.0": (2, 2)}, {"ln1.0": (3, 1)}]
    assert all(c[1] is None for c in model.calls)
    for (batch, _, _), rows in zip(model.calls, log.batches, strict=True):
        longest = max(len(sc.data.examples[r].tokens) for r in rows)
        assert batch.ids.shape == (len(rows), longest)
    # 5 examples in batches of 2: epoch 0 ends with update 2, and update 3 is the last
    assert log.val_after.tolist() == [2, 3] and log.val_accuracy.tolist() == [0.5, 0.5]
    assert [e[1] for e in model.evaluated] == [{"ln1.0": (3, 1)}, {"ln1.0": (4, 2)}]
    assert log.running == {"ln1.0": (4, 2)}


def test_dropout_masks_are_drawn_per_update_with_the_data_seed_and_the_batch_shape(stand_in, monkeypatch):
    drawn = []

    def masks(p, seed, t, n_layers, b, h, width, d):
        drawn.append((p, seed, t, n_layers, b, h, width, d))
        return [f"masks of update {t}"]

    monkeypatch.setattr(trainer, "_dropout_module", lambda: types.SimpleNamespace(masks=masks))
    sc = encoder_with_data(dropout=0.25)
    log = trainer.fit(sc)
    m = sc.model
    assert [c[1] for c in stand_in[0].calls] == [[f"masks of update {t}"] for t in range(4)]
    assert drawn == [(0.25, 5, t, m.n_layers, *c[0].ids.shape[:1], m.n_heads, c[0].ids.shape[1], m.d_model)
                     for t, c in enumerate(stand_in[0].calls)]
    assert log.dropout_seed == 5


def test_weights_move_as_adamw_on_the_gradients_the_model_gives(stand_in):
    sc = encoder_with_data()
    log = trainer.fit(sc)
    w0 = np.concatenate([np.ravel(sc.params[n]) for n in log.param_names])
    np.testing.assert_allclose(log.grad_norm[0], np.linalg.norm(w0), rtol=1e-14)
    # AdamW's first step: w(1 − αλ) − α·sign(g) (up to ε), here g = w
    expected = w0 * (1 - 0.1 * 0.01) - 0.1 * w0 / (np.abs(w0) + 1e-8)
    np.testing.assert_allclose(log.param_history[0], expected, rtol=1e-12, atol=1e-12)
