"""Dropout and BatchNorm: the stages against torch, and the batched model with them against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from batched_helpers import batch, scenario, torch_batch_loss, torch_loss_and_grads

from stepper.engine import batched_gelu, batchnorm, dropout
from stepper.engine.batched_transformer import BatchedTransformer

EXAMPLES = [["a", "c", "b", "d", "e"], ["b", "e"], ["c", "c", "a"]]
LABELS = [0, 2, 1]


def test_masks_follow_the_seed_and_order():
    got = dropout.masks(0.25, 7, 3, 2, 2, 3, 4, 5)
    rng = np.random.default_rng([7, 3])
    for layer in got:
        assert np.array_equal(layer.attn, rng.random((2, 3, 4, 4)) >= 0.25)
        assert np.array_equal(layer.attn_out, rng.random((2, 4, 5)) >= 0.25)
        assert np.array_equal(layer.ffn_out, rng.random((2, 4, 5)) >= 0.25)
    assert dropout.masks(0.0, 7, 3, 2, 2, 3, 4, 5) == []
    assert not np.array_equal(got[0].attn, dropout.masks(0.25, 7, 4, 2, 2, 3, 4, 5)[0].attn)


def test_dropout_stage_scales_kept_entries():
    x = np.arange(6.0).reshape(2, 3)
    keep = np.array([[True, False, True], [False, True, True]])
    y, cache = dropout.forward(x, keep, 0.25)
    assert np.allclose(y, np.where(keep, x / 0.75, 0.0), rtol=1e-15, atol=0)
    assert np.allclose(dropout.backward(np.ones_like(x), cache), np.where(keep, 1 / 0.75, 0.0), rtol=1e-15, atol=0)


@pytest.mark.parametrize("config", [{}, {"kind": "decoder", "norm": "pre", "final_norm": True}])
def test_model_with_given_masks_matches_torch(tmp_path, config):
    sc = scenario(tmp_path, dropout=0.3, **config)
    b = batch(sc, EXAMPLES, LABELS)
    m = sc.model
    masks = dropout.masks(m.dropout, 5, 0, m.n_layers, *b.ids.shape[:1], m.n_heads, b.ids.shape[1], m.d_model)
    loss, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, b, masks=masks)
    want_loss, want_grads = torch_loss_and_grads(sc, b, masks)
    assert abs(loss - want_loss) <= 1e-10
    assert loss != pytest.approx(BatchedTransformer(sc).loss_and_grads(sc.params, b)[0])  # the masks did act
    for name in grads:
        assert np.max(np.abs(grads[name] - want_grads[name])) <= 1e-10, name


def test_batchnorm_stage_matches_torch_on_non_pad_rows():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.standard_normal((7, 3)), rng.standard_normal(3), rng.standard_normal(3)
    rows = np.array([True, True, False, True, True, False, True])
    dy = rng.standard_normal((7, 3))
    y, cache = batchnorm.forward(x, gamma, beta, 1e-5, rows)
    xt, gt, bt = (torch.tensor(v, requires_grad=True) for v in (x, gamma, beta))
    bn = torch.nn.BatchNorm1d(3, eps=1e-5, momentum=0.1, dtype=torch.float64)
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    yt = F.batch_norm(xt[torch.tensor(rows)], mean, var, gt, bt, training=True, momentum=0.1, eps=1e-5)
    assert np.allclose(y[rows], yt.detach().numpy(), rtol=0, atol=1e-13)
    # pad rows use the same statistics (and are never read)
    mu, sd = x[rows].mean(0), np.sqrt(x[rows].var(0) + 1e-5)
    assert np.allclose(y[~rows], (x[~rows] - mu) / sd * gamma + beta, rtol=0, atol=1e-13)
    dy_kept = dy * rows[:, None]  # only what torch's rows feed
    dx_kept, dg_kept, db_kept = batchnorm.backward(dy_kept, cache)
    yt.backward(torch.tensor(dy[rows]))
    assert np.allclose(dx_kept, xt.grad.numpy(), rtol=0, atol=1e-13)
    assert np.allclose(dg_kept, gt.grad.numpy(), rtol=0, atol=1e-13)
    assert np.allclose(db_kept, bt.grad.numpy(), rtol=0, atol=1e-13)
    bn.train()
    bn(torch.tensor(x[rows]))
    stats = batchnorm.running(batchnorm.initial(3), cache)
    assert np.allclose(stats.mean, bn.running_mean.numpy(), rtol=0, atol=1e-15)
    assert np.allclose(stats.var, bn.running_var.numpy(), rtol=0, atol=1e-15)
    bn.eval()
    x2 = rng.standard_normal((4, 3))
    bn.weight.data, bn.bias.data = torch.tensor(gamma), torch.tensor(beta)
    assert np.allclose(batchnorm.evaluate(x2, gamma, beta, 1e-5, stats), bn(torch.tensor(x2)).detach().numpy(),
                       rtol=0, atol=1e-13)


def test_batchnorm_backward_counts_pad_rows_that_reach_the_loss():
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((5, 2)), rng.standard_normal(2), rng.standard_normal(2)
    rows, dy = np.array([True, False, True, True, False]), rng.standard_normal((5, 2))
    dx = batchnorm.backward(dy, batchnorm.forward(x, gamma, beta, 1e-5, rows)[1])[0]
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = 1e-6
        hi = (batchnorm.forward(x + step, gamma, beta, 1e-5, rows)[0] * dy).sum()
        lo = (batchnorm.forward(x - step, gamma, beta, 1e-5, rows)[0] * dy).sum()
        numeric[idx] = (hi - lo) / 2e-6
    assert np.allclose(dx, numeric, rtol=0, atol=1e-8)


@pytest.mark.parametrize("config", [{}, {"kind": "decoder", "norm": "pre", "final_norm": True, "dropout": 0.2}])
def test_batchnorm_model_trains_and_evaluates_as_torch(tmp_path, config):
    sc = scenario(tmp_path, norm_type="batch", **config)
    m, model = sc.model, BatchedTransformer(sc)
    b = batch(sc, EXAMPLES, LABELS)
    masks = dropout.masks(m.dropout, 1, 0, m.n_layers, b.ids.shape[0], m.n_heads, b.ids.shape[1], m.d_model)
    ats = [f"layers.{i}.ln{n}" for i in range(m.n_layers) for n in (1, 2)] + ["ln_f"] * m.final_norm
    torch_running = {at: (torch.zeros(m.d_model, dtype=torch.float64), torch.ones(m.d_model, dtype=torch.float64))
                     for at in ats}
    loss, grads, running = model.loss_and_grads(sc.params, b, masks=masks)
    want_loss, want_grads = torch_loss_and_grads(sc, b, masks, torch_running)
    assert abs(loss - want_loss) <= 1e-10
    for name in grads:
        assert np.max(np.abs(grads[name] - want_grads[name])) <= 1e-10, name
    assert sorted(running) == sorted(ats)
    for at in ats:
        assert np.allclose(running[at].mean, torch_running[at][0].numpy(), rtol=0, atol=1e-12)
        assert np.allclose(running[at].var, torch_running[at][1].numpy(), rtol=0, atol=1e-12)
    # a second batch starts from the first one's statistics
    loss2, _, running2 = model.loss_and_grads(sc.params, b, masks=masks, running=running)
    assert abs(loss2 - loss) <= 1e-12 and not np.allclose(running2[ats[0]].mean, running[ats[0]].mean)
    # evaluation reads the running statistics, not the batch's
    params = {k: torch.tensor(v) for k, v in sc.params.items()}
    want_eval, _ = torch_batch_loss(sc, params, b, None, torch_running, train=False)
    assert abs(model.evaluate(sc.params, b, running)[0] - want_eval.item()) <= 1e-10


def test_fast_erf_is_math_erf():
    xs = np.concatenate([np.linspace(-8, 8, 100_001), [0.0, 6.0, -6.0, 1e-300, 40.0]])
    want = np.array([math.erf(v) for v in xs])
    assert np.max(np.abs(batched_gelu.erf(xs) - want)) <= 1e-14


def test_fast_erf_of_a_non_finite_input_is_what_math_erf_gives_without_warnings():
    # a diverging run feeds inf and NaN to the activation; the piece index must not be cast from them
    xs = np.array([np.nan, np.inf, -np.inf, 7.0, -0.3])
    with np.errstate(all="raise"):
        got = batched_gelu.erf(xs)
    np.testing.assert_array_equal(got, [np.nan, 1.0, -1.0, 1.0, batched_gelu.erf(np.array([-0.3]))[0]])


@pytest.mark.parametrize("config", [{}, {"kind": "decoder", "norm": "pre", "final_norm": True}])
def test_recorded_pass_with_batchnorm_is_verified_by_the_reference(tmp_path, config):
    """The traced example's steps: BatchNorm over its own non-<pad> rows, each step checked by torch."""
    import dataclasses

    from stepper.engine import run
    from stepper.verify.entry import checked

    sc = scenario(tmp_path, norm_type="batch", **config)
    sc = dataclasses.replace(sc, tokens=["a", "c", "b", "d", "<pad>"])
    trace, verdicts = checked(sc)
    assert verdicts.totals.ok
    norm_steps = [s for s in trace.steps if s.stage == "batchnorm"]
    assert norm_steps and all(s.formula.plain.startswith("y = (x − μ)") for s in norm_steps if s.phase == "forward")
    assert "BatchNorm" in norm_steps[0].title
    # the recorded pass is the batched model's training mode on that one example
    labels = [sc.task.label_index] if sc.task.kind == "classify" else None
    tokens = ["a", "c", "b", "d"]
    loss, grads, _ = BatchedTransformer(sc).loss_and_grads(sc.params, batch(sc, [tokens], labels))
    want_loss, want_grads = run.loss_and_grads(dataclasses.replace(sc, tokens=tokens), sc.params)
    assert abs(loss - want_loss) <= 1e-12
    for name, g in want_grads.items():
        assert np.max(np.abs(grads[name] - g)) <= 1e-12, name
