"""Each engine stage, forward and backward, against torch's own functions and autograd."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stepper.engine import (
    activation,
    embedding,
    heads,
    layernorm,
    linear,
    loss,
    mask,
    pooling,
    positional,
    scale,
    scores,
    softmax,
    tied_head,
    weighted_sum,
)

TOL = 1e-12
rng = np.random.default_rng(7)


def t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.asarray(ours).shape == np.asarray(theirs).shape
    assert np.max(np.abs(np.asarray(ours) - theirs), initial=0.0) <= TOL


def test_linear_forward_and_grads():
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    y, cache = linear.forward(x, w, b)
    tx, tw, tb = t(x), t(w), t(b)
    ty = F.linear(tx, tw.T, tb)  # torch stores [out, in]; ours is [in, out]
    close(y, ty)
    dy = rng.normal(size=y.shape)
    ty.backward(torch.tensor(dy))
    dx, dw, db = linear.backward(dy, cache)
    close(dx, tx.grad), close(dw, tw.grad), close(db, tb.grad)


def test_linear_on_a_single_vector():
    x, w = rng.normal(size=4), rng.normal(size=(4, 2))
    y, cache = linear.forward(x, w, None)
    tx, tw = t(x), t(w)
    ty = tx @ tw
    close(y, ty)
    dy = rng.normal(size=2)
    ty.backward(torch.tensor(dy))
    dx, dw, db = linear.backward(dy, cache)
    close(dx, tx.grad), close(dw, tw.grad)
    assert db is None


@pytest.mark.parametrize("kind,torch_fn", [
    ("relu", F.relu),
    ("gelu", lambda h: F.gelu(h, approximate="none")),
    ("gelu_tanh", lambda h: F.gelu(h, approximate="tanh")),
])
def test_activations(kind, torch_fn):
    h = rng.normal(size=(3, 6)) * 2
    g, cache = activation.forward(h, kind)
    th = t(h)
    tg = torch_fn(th)
    close(g, tg)
    dg = rng.normal(size=g.shape)
    tg.backward(torch.tensor(dg))
    close(activation.backward(dg, cache), th.grad)


def test_gelu_of_huge_inputs_has_its_limits_and_no_overflow():
    h = np.array([1e200, -1e200, 1e160, -50.0, 38.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g, cache = activation.forward(h, "gelu")
        dh = activation.backward(np.ones_like(h), cache)
    th = t(h)
    F.gelu(th).backward(torch.ones_like(th))
    close(g, F.gelu(t(h)))
    close(dh, th.grad)
    assert list(dh[:3]) == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("kind", ["relu", "gelu", "gelu_tanh"])
def test_activation_gradients_of_a_single_number_and_of_a_broadcast_upstream(kind):
    h = np.array(0.3)
    _, cache = activation.forward(h, kind)
    th = t(h)
    ({"relu": F.relu, "gelu": F.gelu}.get(kind) or (lambda v: F.gelu(v, approximate="tanh")))(th).backward()
    close(activation.backward(np.array(1.0), cache), th.grad)
    row = rng.normal(size=4)
    kept = row.copy()
    _, cache = activation.forward(row, kind)
    broadcast = activation.backward(np.ones((2, 4)), cache)
    # each upstream row gets the row's own derivative, and nothing is written in place into h
    close(broadcast, np.tile(activation.backward(np.ones(4), cache), (2, 1)))
    assert np.array_equal(row, kept)


def test_layernorm():
    x, gamma, beta = rng.normal(size=(3, 5)) * 3 + 1, rng.normal(size=5), rng.normal(size=5)
    y, cache = layernorm.forward(x, gamma, beta, 1e-5)
    tx, tg, tb = t(x), t(gamma), t(beta)
    ty = F.layer_norm(tx, (5,), tg, tb, eps=1e-5)
    close(y, ty)
    dy = rng.normal(size=y.shape)
    ty.backward(torch.tensor(dy))
    dx, dgamma, dbeta = layernorm.backward(dy, cache)
    close(dx, tx.grad), close(dgamma, tg.grad), close(dbeta, tb.grad)


def test_attention_core_with_causal_mask_matches_torch():
    n_heads, T, d = 2, 4, 6
    q, k, v = (rng.normal(size=(T, d)) for _ in range(3))
    ok = mask.allowed(np.array([False, False, True, False]), causal=True)
    qh, kh, vh = (heads.split(a, n_heads) for a in (q, k, v))
    s_raw, c_scores = scores.forward(qh, kh)
    s, factor = scale.forward(s_raw, d // n_heads)
    s_m, _ = mask.forward(s, ok)
    a, c_soft = softmax.forward(s_m)
    z, c_values = weighted_sum.forward(a, vh)
    out = heads.concat(z)

    tq, tk, tv = t(q), t(k), t(v)
    split = lambda x: x.view(T, n_heads, d // n_heads).transpose(0, 1)  # noqa: E731
    ts = split(tq) @ split(tk).transpose(-2, -1) / (d // n_heads) ** 0.5
    ts = ts.masked_fill(~torch.tensor(ok), float("-inf"))
    ta = torch.softmax(ts, dim=-1)
    tout = (ta @ split(tv)).transpose(0, 1).reshape(T, d)
    close(a, ta), close(out, tout)
    assert np.isneginf(s_m[:, 0, 1]).all() and (a[:, 0, 1] == 0).all()

    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    da, dv = weighted_sum.backward(heads.split(dout, n_heads), c_values)
    ds = scale.backward(mask.backward(softmax.backward(da, c_soft), ok), factor)
    dq, dk = scores.backward(ds, c_scores)
    close(heads.concat(dq), tq.grad), close(heads.concat(dk), tk.grad), close(heads.concat(dv), tv.grad)


def test_tied_head_scores_with_the_embedding_table_and_returns_its_share_of_the_table_gradient():
    h, table = rng.normal(size=(3, 4)), rng.normal(size=(6, 4))  # [T, D], [V, D]
    logits, cache = tied_head.forward(h, table)
    th, tt_ = t(h), t(table)
    tz = F.linear(th, tt_)  # torch's own tied head: h · tableᵀ
    close(logits, tz)
    dz = rng.normal(size=logits.shape)
    tz.backward(torch.tensor(dz))
    dh, dtable = tied_head.backward(dz, cache)
    close(dh, th.grad), close(dtable, tt_.grad)


def test_embedding_scatter_adds_repeated_tokens():
    table, ids = rng.normal(size=(5, 3)), np.array([1, 3, 1])
    e, cache = embedding.forward(ids, table)
    tt = t(table)
    te = F.embedding(torch.tensor(ids), tt)
    close(e, te)
    de = rng.normal(size=e.shape)
    te.backward(torch.tensor(de))
    close(embedding.backward(de, cache), tt.grad)


def test_sinusoidal_table_against_the_formula():
    pe = positional.sinusoidal(6, 5)
    for pos in range(6):
        for i in range(5):
            angle = pos / 10000 ** ((i - i % 2) / 5)
            assert pe[pos, i] == pytest.approx(np.sin(angle) if i % 2 == 0 else np.cos(angle), abs=1e-15)


@pytest.mark.parametrize("kind", ["mean", "first", "last"])
def test_pooling(kind):
    h, keep = rng.normal(size=(4, 3)), np.array([True, True, False, True])
    w = pooling.weights(kind, keep)
    p, cache = pooling.forward(h, w)
    th = t(h)
    tp = {"mean": th[torch.tensor(keep)].mean(0), "first": th[0], "last": th[-1]}[kind]
    close(p, tp)
    dp = rng.normal(size=3)
    tp.backward(torch.tensor(dp))
    close(pooling.backward(dp, cache), th.grad)


def test_cross_entropy_ignores_dropped_rows():
    z, targets, keep = rng.normal(size=(3, 5)), np.array([1, 4, 0]), np.array([True, False, True])
    value, probs, cache = loss.cross_entropy(z, targets, keep)
    tz = t(z)
    tl = F.cross_entropy(tz, torch.tensor(np.where(keep, targets, -100)), ignore_index=-100)
    assert abs(value - tl.item()) <= TOL
    tl.backward()
    close(loss.cross_entropy_backward(cache), tz.grad)


def test_cross_entropy_of_a_saturated_softmax_is_finite():
    # p of the target underflows to exactly 0 (e^-2000), yet its log is the finite −2000
    z, targets, keep = np.array([[0.0, 2000.0, 1.0], [3.0, 0.0, -1e6]]), np.array([0, 2]), np.array([True, True])
    with np.errstate(divide="raise", over="raise", invalid="raise"):  # underflow to 0 is expected
        value, probs, cache = loss.cross_entropy(z, targets, keep)
    tz = t(z)
    tl = F.cross_entropy(tz, torch.tensor(targets))
    assert value == pytest.approx((2000.0 + (1e6 + 3.0 + math.log1p(math.exp(-3.0)))) / 2, rel=1e-15)
    assert abs(value - tl.item()) <= TOL * abs(value)
    tl.backward()
    close(loss.cross_entropy_backward(cache), tz.grad)


def test_mse():
    pred, target = rng.normal(size=3), rng.normal(size=3)
    value, cache = loss.mse(pred, target)
    tp = t(pred)
    tl = F.mse_loss(tp, torch.tensor(target))
    assert abs(value - tl.item()) <= TOL
    tl.backward()
    close(loss.mse_backward(cache), tp.grad)
