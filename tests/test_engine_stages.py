"""Each engine stage, forward and backward, against torch's own functions and autograd (see stage_check)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stage_check import assert_close, check_stage

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

rng = np.random.default_rng(7)
TORCH_ACTIVATION = {"relu": F.relu, "gelu": lambda h: F.gelu(h, approximate="none"),
                    "gelu_tanh": lambda h: F.gelu(h, approximate="tanh"), "tanh": torch.tanh,
                    "sigmoid": torch.sigmoid, "square": torch.square, "exp": torch.exp, "none": torch.clone}


def as_value(loss_fn):
    """A loss stage `(value, ..., cache)` as `(value, cache)`: the scalar is what torch returns."""
    def forward(*args):
        value, *_, cache = loss_fn(*args)
        return np.float64(value), cache
    return forward


def scaled(backward):
    """A loss's backward takes no upstream gradient (it is 1): scale it by the one given."""
    return lambda d, cache: d * backward(cache)


def test_the_check_fails_on_a_wrong_forward_a_wrong_gradient_or_a_nan():
    def double(x):
        return 2 * x, None

    with pytest.raises(AssertionError, match="forward"):
        check_stage([(3,)], lambda x: (x + 1e-9, None), lambda d, _: 2 * d, lambda x: 2 * x)
    with pytest.raises(AssertionError, match="gradient of input 0"):
        check_stage([(3,)], double, lambda d, _: 2 * d + 1e-9, lambda x: 2 * x)
    with pytest.raises(AssertionError, match="gradient of input 0"):
        check_stage([(3,)], double, lambda d, _: np.full(3, np.nan), lambda x: 2 * x)
    with pytest.raises(AssertionError, match="shape"):
        check_stage([(3,)], double, lambda d, _: d[:2], lambda x: 2 * x)
    check_stage([(3,)], double, lambda d, _: 2 * d, lambda x: 2 * x)


def test_linear_forward_and_grads():
    # torch stores [out, in]; ours is [in, out]
    check_stage([(3, 4), (4, 5), (5,)], linear.forward, linear.backward, lambda x, w, b: F.linear(x, w.T, b))


def test_linear_on_a_single_vector():
    def backward(dy, cache):
        dx, dw, db = linear.backward(dy, cache)
        assert db is None
        return dx, dw

    check_stage([(4,), (4, 2)], lambda x, w: linear.forward(x, w, None), backward, lambda x, w: x @ w)


@pytest.mark.parametrize("kind", TORCH_ACTIVATION)
def test_activations(kind):
    check_stage([rng.normal(size=(3, 6)) * 2], lambda h: activation.forward(h, kind), activation.backward,
                TORCH_ACTIVATION[kind])


def test_gelu_of_huge_inputs_has_its_limits_and_no_overflow():
    h = np.array([1e200, -1e200, 1e160, -50.0, 38.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check_stage([h], lambda x: activation.forward(x, "gelu"), activation.backward, F.gelu)
        _, cache = activation.forward(h, "gelu")
        dh = activation.backward(np.ones_like(h), cache)
    assert list(dh[:3]) == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("kind", TORCH_ACTIVATION)
def test_activation_gradients_of_a_single_number_and_of_a_broadcast_upstream(kind):
    check_stage([np.array(0.3)], lambda h: activation.forward(h, kind), activation.backward, TORCH_ACTIVATION[kind])
    row = rng.normal(size=4)
    kept = row.copy()
    _, cache = activation.forward(row, kind)
    broadcast = activation.backward(np.ones((2, 4)), cache)
    # each upstream row gets the row's own derivative, and nothing is written in place into h
    assert_close(broadcast, np.tile(activation.backward(np.ones(4), cache), (2, 1)))
    assert np.array_equal(row, kept)


def test_layernorm():
    check_stage([rng.normal(size=(3, 5)) * 3 + 1, (5,), (5,)], lambda x, g, b: layernorm.forward(x, g, b, 1e-5),
                layernorm.backward, lambda x, g, b: F.layer_norm(x, (5,), g, b, eps=1e-5))


def test_each_attention_stage_on_its_own():
    check_stage([(2, 4, 3), (2, 4, 3)], scores.forward, scores.backward, lambda q, k: q @ k.transpose(-2, -1))
    check_stage([(2, 4, 4)], lambda s: scale.forward(s, 3), scale.backward, lambda s: s / math.sqrt(3))
    check_stage([(2, 4, 4)], softmax.forward, softmax.backward, lambda s: torch.softmax(s, dim=-1))
    check_stage([(2, 4, 4), (2, 4, 3)], weighted_sum.forward, weighted_sum.backward, lambda a, v: a @ v)
    ok = mask.allowed(np.array([False, True, False, False]), causal=True)
    check_stage([(2, 4, 4)], lambda s: mask.forward(s, ok), mask.backward,
                lambda s: s.masked_fill(~torch.tensor(ok), float("-inf")))


def test_attention_core_with_causal_mask_matches_torch():
    n_heads, T, d = 2, 4, 6
    ok = mask.allowed(np.array([False, False, True, False]), causal=True)
    seen = {}

    def forward(q, k, v):
        qh, kh, vh = (heads.split(a, n_heads) for a in (q, k, v))
        s_raw, c_scores = scores.forward(qh, kh)
        s, factor = scale.forward(s_raw, d // n_heads)
        seen["s_m"], _ = mask.forward(s, ok)
        seen["a"], c_soft = softmax.forward(seen["s_m"])
        z, c_values = weighted_sum.forward(seen["a"], vh)
        return heads.concat(z), (c_scores, factor, c_soft, c_values)

    def backward(dout, cache):
        c_scores, factor, c_soft, c_values = cache
        da, dv = weighted_sum.backward(heads.split(dout, n_heads), c_values)
        dq, dk = scores.backward(scale.backward(mask.backward(softmax.backward(da, c_soft), ok), factor), c_scores)
        return heads.concat(dq), heads.concat(dk), heads.concat(dv)

    def torch_attention(q, k, v):
        split = lambda x: x.view(T, n_heads, d // n_heads).transpose(0, 1)  # noqa: E731
        s = split(q) @ split(k).transpose(-2, -1) / (d // n_heads) ** 0.5
        a = torch.softmax(s.masked_fill(~torch.tensor(ok), float("-inf")), dim=-1)
        return (a @ split(v)).transpose(0, 1).reshape(T, d)

    check_stage([(T, d)] * 3, forward, backward, torch_attention)
    assert np.isneginf(seen["s_m"][:, 0, 1]).all() and (seen["a"][:, 0, 1] == 0).all()


def test_tied_head_scores_with_the_embedding_table_and_returns_its_share_of_the_table_gradient():
    # [T, D] states and a [V, D] table; torch's own tied head is h · tableᵀ
    check_stage([(3, 4), (6, 4)], tied_head.forward, tied_head.backward, lambda h, table: F.linear(h, table))


def test_embedding_scatter_adds_repeated_tokens():
    ids = np.array([1, 3, 1])
    check_stage([(5, 3)], lambda table: embedding.forward(ids, table), embedding.backward,
                lambda table: F.embedding(torch.tensor(ids), table))


def test_sinusoidal_table_against_the_formula():
    pe = positional.sinusoidal(6, 5)
    for pos in range(6):
        for i in range(5):
            angle = pos / 10000 ** ((i - i % 2) / 5)
            assert pe[pos, i] == pytest.approx(np.sin(angle) if i % 2 == 0 else np.cos(angle), abs=1e-15)


@pytest.mark.parametrize("kind", ["mean", "first", "last"])
def test_pooling(kind):
    keep = np.array([True, True, False, True])
    w = pooling.weights(kind, keep)
    check_stage([(4, 3)], lambda h: pooling.forward(h, w), pooling.backward,
                lambda h: {"mean": h[torch.tensor(keep)].mean(0), "first": h[0], "last": h[-1]}[kind])


def test_cross_entropy_ignores_dropped_rows():
    targets, keep = np.array([1, 4, 0]), np.array([True, False, True])
    check_stage([(3, 5)], as_value(lambda z: loss.cross_entropy(z, targets, keep)),
                scaled(loss.cross_entropy_backward),
                lambda z: F.cross_entropy(z, torch.tensor(np.where(keep, targets, -100)), ignore_index=-100))


def test_cross_entropy_of_a_saturated_softmax_is_finite():
    # p of the target underflows to exactly 0 (e^-2000), yet its log is the finite −2000
    z, targets, keep = np.array([[0.0, 2000.0, 1.0], [3.0, 0.0, -1e6]]), np.array([0, 2]), np.array([True, True])
    with np.errstate(divide="raise", over="raise", invalid="raise"):  # underflow to 0 is expected
        value, _ = check_stage([z], as_value(lambda x: loss.cross_entropy(x, targets, keep)),
                               scaled(loss.cross_entropy_backward),
                               lambda x: F.cross_entropy(x, torch.tensor(targets)))
    assert value == pytest.approx((2000.0 + (1e6 + 3.0 + math.log1p(math.exp(-3.0)))) / 2, rel=1e-15)


def test_mse():
    target = rng.normal(size=3)
    check_stage([(3,)], as_value(lambda pred: loss.mse(pred, target)), scaled(loss.mse_backward),
                lambda pred: F.mse_loss(pred, torch.tensor(target)))
