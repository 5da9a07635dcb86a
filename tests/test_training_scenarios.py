"""The bundled training scenarios train to the results their descriptions and lessons state, on every run.

Each file's claim is recomputed here from the engine's own training log (stepper.engine.build_trace, no
torch): the validation accuracy the sentiment model reaches, the reverser's anti-diagonal attention on an
unseen string, which of the deep post-/pre-norm runs train with and without warm-up, LayerNorm vs
BatchNorm, the noise of batch 1 against batch 8, the NaN at update 4 without clipping and none with it,
the validation loss that turns upward while the training loss falls, Adam vs AdamW vs SGD, and the
encoder–decoder whose trained cross-attention aligns each target word with its source word.
`stepper check` of every file (torch's own training run) is in test_scenario_library.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@cache
def scenario(name: str):
    return load_scenario(str(SCENARIOS / f"{name}.yaml"))


@cache
def trace(name: str):
    return build_trace(scenario(name))


def log(name: str):
    return trace(name).training


def accuracy_after(name: str, updates: int) -> float:
    """The validation accuracy after `updates` updates (as the validation step labels it)."""
    lg = log(name)
    return float(lg.val_accuracy[list(lg.val_after + 1).index(updates)])


def softmax_of(tr, step_id: str) -> np.ndarray:
    step = next(s for s in tr.steps if s.id == step_id)
    return np.asarray(next(iter(step.outputs.values())).value)


# --- 1. sentiment: validation accuracy 1 -------------------------------------------------------------------

def test_sentiment_gets_every_held_back_review_right():
    lg = log("sentiment_train")
    assert lg.updates == 45 and len(scenario("sentiment_train").data.examples) == 24
    assert accuracy_after("sentiment_train", 27) == 1.0
    assert accuracy_after("sentiment_train", 30) == 0.875
    assert all(accuracy_after("sentiment_train", u) == 1.0 for u in range(33, 46, 3))
    assert lg.val_loss[0] == pytest.approx(0.6418, abs=5e-5) and lg.val_loss[-1] == pytest.approx(0.03448, abs=5e-6)


# --- 2. the reverser: anti-diagonal attention on an unseen string -------------------------------------------

def test_reverse_trained_holds_exactly_the_weights_reverse_train_learned():
    trained, written = trace("reverse_train").trained, scenario("reverse_trained").params
    assert trained.keys() == written.keys()
    for name in trained:
        np.testing.assert_array_equal(written[name], trained[name], err_msg=name)


def test_the_trained_head_reads_the_letters_backwards():
    a = softmax_of(trace("reverse_trained"), "fwd.L0.attn.softmax")
    assert scenario("reverse_trained").tokens == list("bac>cab")
    # rows 3, 4, 5 (`>`, c, a) look at columns 2, 1, 0: the letters they must output
    assert [round(float(a[r, 5 - r]), 3) for r in (3, 4, 5)] == [0.955, 0.905, 0.993]
    assert all(a[r].argmax() == 5 - r for r in (3, 4, 5))


def test_every_validation_string_is_reversed_right():
    sc = scenario("reverse_train")
    vocab, trained = sc.vocab, trace("reverse_train").trained
    assert len(sc.data.validation) == 6
    for ex in sc.data.validation:
        run = build_trace(dataclasses.replace(sc, params=trained, optim=None, data=None, tokens=list(ex.tokens)))
        said = "".join(vocab[i] for i in np.asarray(run.logits).argmax(-1))
        assert said[2:] == "".join(ex.tokens[3:]), "".join(ex.tokens)
    lg = log("reverse_train")
    assert lg.val_loss[0] == pytest.approx(1.599, abs=5e-4) and lg.val_loss[-1] == pytest.approx(0.5305, abs=5e-5)


# --- 3. warm-up at depth 8 ---------------------------------------------------------------------------------

def test_post_norm_trains_only_with_warm_up_pre_norm_either_way():
    def losses(name):
        assert scenario(name).model.n_layers == 8
        return log(name).batch_losses
    stuck = losses("nowarmup_postnorm_train")
    assert stuck[2] == pytest.approx(0.4166, abs=5e-5) and stuck[3] == pytest.approx(1.0173, abs=5e-5)
    assert 0.6665 - 5e-5 < stuck[10:].min() and stuck[10:].max() < 0.7065 + 5e-5
    assert losses("warmup_postnorm_train")[-1] == pytest.approx(0.0282, abs=5e-5)
    assert losses("nowarmup_prenorm_train")[-1] == pytest.approx(0.0103, abs=5e-5)
    assert losses("warmup_prenorm_train")[-1] == pytest.approx(0.0158, abs=5e-5)
    assert log("warmup_postnorm_train").lr[0] == 0.0 and log("nowarmup_postnorm_train").lr[0] == 0.01


# --- 4. LayerNorm vs BatchNorm -----------------------------------------------------------------------------

def test_layernorm_and_batchnorm_both_learn_layernorm_ends_lower():
    for name, first_right in (("layernorm_vs_batchnorm_layer", 21), ("layernorm_vs_batchnorm_batch", 24)):
        lg = log(name)
        right, at = lg.val_accuracy == 1.0, list(lg.val_after + 1).index(first_right)
        assert right[at:].all() and not right[:at].any()  # all eight right from then on, never before
    assert log("layernorm_vs_batchnorm_layer").val_loss[-1] == pytest.approx(0.000185, abs=5e-7)
    assert log("layernorm_vs_batchnorm_batch").val_loss[-1] == pytest.approx(0.01582, abs=5e-6)
    assert log("layernorm_vs_batchnorm_batch").running  # validation used BatchNorm's running statistics


# --- 5. batch 1 vs batch 8 ---------------------------------------------------------------------------------

def test_batch_one_is_noisier_and_with_this_lr_gets_further():
    one, eight = log("batch1_vs_batch8_b1"), log("batch1_vs_batch8_b8")
    assert (one.updates, eight.updates) == (144, 18)
    spread_one = np.ptp(one.batch_losses[120:144])
    spread_eight = np.ptp(eight.batch_losses[15:18])
    assert spread_one == pytest.approx(0.9127 - 0.4092, abs=1e-4)
    assert spread_one > 10 * spread_eight
    assert one.val_accuracy[-1] == 1.0 and eight.val_accuracy[-1] == 0.625


# --- 6. a learning rate too high: NaN without clipping, none with it ----------------------------------------

def test_without_clipping_update_4_is_nan_and_the_check_names_it():
    lg, where = log("lr_too_high_noclip"), trace("lr_too_high_noclip").diverged
    assert lg.stopped_at == 4 and np.isnan(lg.batch_losses[4])
    assert where.update == 4 and where.example == 20 and where.step_id == "fwd.L0.attn.out"
    assert " ".join(scenario("lr_too_high_noclip").data.examples[20].tokens) == "what a great ending"


def test_with_clipping_the_same_lr_trains():
    lg = log("lr_too_high_clip")
    assert lg.stopped_at is None and np.isfinite(lg.batch_losses).all() and lg.updates == 45
    assert (lg.batch_losses[40:] < 3.1e-12).all()
    assert accuracy_after("lr_too_high_clip", 39) == 1.0 and (lg.val_accuracy[-3:] == 1.0).all()
    assert scenario("lr_too_high_clip").optim.lr == scenario("lr_too_high_noclip").optim.lr == 3


# --- 7. overfitting ----------------------------------------------------------------------------------------

def test_training_loss_falls_while_validation_loss_rises():
    lg = log("overfit_train")
    assert (np.diff(lg.batch_losses) < 0).all()
    best = int(lg.val_loss.argmin())
    assert lg.val_after[best] + 1 == 12 and lg.val_loss[best] == pytest.approx(0.5322, abs=5e-5)
    assert (np.diff(lg.val_loss[best:]) > 0).all() and lg.val_loss[-1] == pytest.approx(1.281, abs=5e-4)


# --- 8. Adam vs AdamW vs SGD --------------------------------------------------------------------------------

def test_adam_and_adamw_learn_sgd_at_the_same_lr_barely_moves():
    adam, adamw, sgd = (log(f"adam_vs_adamw_vs_sgd_{k}") for k in ("adam", "adamw", "sgd"))
    np.testing.assert_array_equal(adam.val_accuracy, adamw.val_accuracy)
    assert adam.val_loss[-1] == pytest.approx(0.03448, abs=5e-6)
    assert adamw.val_loss[-1] == pytest.approx(0.03518, abs=5e-6)
    assert sgd.val_loss[-1] == pytest.approx(0.6667, abs=5e-5) and sgd.val_accuracy[-1] == 0.625


# --- 9. an encoder–decoder: cross-attention aligns target and source ----------------------------------------

def test_word_order_trains_to_its_stated_losses():
    lg = log("word_order_train")
    assert lg.updates == 120 and lg.stopped_at is None
    assert lg.batch_losses[0] == pytest.approx(2.539, abs=5e-4)
    assert lg.batch_losses[-1] == pytest.approx(0.002146, abs=5e-7)
    assert lg.val_loss[0] == pytest.approx(2.295, abs=5e-4) and lg.val_loss[-1] == pytest.approx(0.008099, abs=5e-7)


def test_the_trained_cross_attention_peaks_on_each_target_words_source_word():
    """On every pair, seen and unseen: the row reading `<bos>` produces the noun and looks at the source
    noun (column 1); the row reading the noun produces the adjective and looks at the source adjective
    (column 0) — read from the cross-attention step of each pair's pass with the trained weights."""
    from stepper.insight.before_after import trained_scenario

    sc = scenario("word_order_train")
    trained = trained_scenario(sc, trace("word_order_train"))
    assert softmax_of(build_trace(trained), "fwd.dec.L0.cross.softmax").shape == (3, 2)
    for ex in sc.data.examples + sc.data.validation:
        run = build_trace(dataclasses.replace(trained, tokens=list(ex.tokens), source_tokens=list(ex.source)))
        a = softmax_of(run, "fwd.dec.L0.cross.softmax")  # [target tokens read, source words]
        assert a[0, 1] > 0.99 and a[1, 0] > 0.99, (ex.source, a)
        said = [sc.vocab[i] for i in np.asarray(run.logits).argmax(-1)]
        assert said == list(ex.tokens[1:]), ex.source
