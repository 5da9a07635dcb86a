"""The scenario library (scenarios/*.yaml): every file verifies, and the exercises give the textbook numbers.

Two kinds of test:

* every scenario goes through `stepper check` in-process (exit code 0), its lessons and quiz questions point at
  steps that exist, and scenarios/README.md lists it;
* the pen-and-paper exercises are recomputed here with plain numpy from the notes' own numbers (not with the
  engine) and compared with what the trace shows: the 2-layer MLP and its momentum step, the momentum exercise,
  attention by hand, softmax([1, 2, 3]) vs softmax([10, 20, 30]), the XOR training runs, √d_k, the sinusoidal
  dot products, the parameter count, and the claims the paired files make about each other.
"""

from __future__ import annotations

import io
import math
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from stepper.commands.check import EXIT_OK, check_one
from stepper.engine import build_trace
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


@cache
def scenario(name: str):
    return load_scenario(str(SCENARIOS / f"{name}.yaml"))


@cache
def trace(name: str):
    return build_trace(scenario(name))


def out(name: str, step_id: str, symbol: str | None = None) -> np.ndarray:
    """An output of one step (per-head steps hold their own head's [T, T] or [T, d_k] slice).

    The first (or only) output when no symbol is given."""
    step = next(s for s in trace(name).steps if s.id == step_id)
    t = step.outputs[symbol] if symbol else next(iter(step.outputs.values()))
    return t.value


def softmax(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- the whole library through `stepper check` ----------------------------------------------------------------

LIBRARY = {
    "mini", "pizza_encoder", "pizza_decoder", "sqrt_dk_scaled", "sqrt_dk_unscaled", "softmax_1_2_3",
    "softmax_10_20_30", "attention_by_hand", "mlp_by_hand", "momentum_step", "xor_linear", "xor_gelu",
    "multihead_8x64", "multihead_1x512", "norm_pre", "norm_post", "char_gpt", "positional_sincos", "param_count",
    "translate_by_hand", "pizza_seq2seq",
}


def test_the_library_is_there():
    assert LIBRARY <= {f.stem for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_check_passes(path):
    buf = io.StringIO()
    code = check_one(str(path), fd=False, tol=1e-10, quiet=True, force=False, out=buf)
    assert code == EXIT_OK, buf.getvalue()


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_lessons_and_quiz_point_at_real_steps(path):
    sc, tr = scenario(path.stem), trace(path.stem)
    assert sc.name == path.stem
    ids = [s.id for s in tr.steps]
    assert sc.lessons, "every scenario in the library teaches something"
    for pattern in sc.lessons:
        assert any(fnmatchcase(i, pattern) for i in ids), f"lesson `{pattern}` matches no step"
    for q in getattr(sc, "quiz", ()):
        assert q["step"] in ids, f"quiz question at `{q['step']}`, which is not a step of this trace"


def test_readme_lists_every_scenario():
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"`{path.name}`" in readme, f"scenarios/README.md does not list {path.name}"


# --- the 2-layer MLP by hand (notes: x = [1, 2], W1, W2, ReLU, target 1, MSE) --------------------------------

# the notes' column-vector form: h = ReLU(W1·x + b1), y = W2·h + b2
X = np.array([1.0, 2.0])
W1 = np.array([[0.5, -0.5], [0.5, 0.5]])
W2 = np.array([[1.0, 1.0]])
TARGET = 1.0


def mlp_by_hand(w1, b1, w2, b2):
    """Forward and backward in the notes' column form; MSE without a ½, as stepper defines it."""
    z = w1 @ X + b1
    h = np.maximum(z, 0.0)
    y = w2 @ h + b2
    loss = float(np.mean((y - TARGET) ** 2))
    dy = 2.0 * (y - TARGET) / y.size
    dw2, db2 = np.outer(dy, h), dy
    dz = (w2.T @ dy) * (z > 0)
    dw1, db1 = np.outer(dz, X), dz
    return {"z": z, "h": h, "y": y, "loss": loss, "dW1": dw1, "db1": db1, "dW2": dw2, "db2": db2}


def test_mlp_by_hand_stores_the_transposed_matrices():
    p = scenario("mlp_by_hand").params
    np.testing.assert_array_equal(p["layers.0.W"], W1.T)
    np.testing.assert_array_equal(p["layers.1.W"], W2.T)


def test_mlp_by_hand_forward_matches_paper():
    r = mlp_by_hand(W1, np.zeros(2), W2, np.zeros(1))
    np.testing.assert_allclose(r["h"], [0.0, 1.5])
    np.testing.assert_allclose(r["y"], [1.5])
    assert r["loss"] == pytest.approx(0.25)
    np.testing.assert_allclose(out("mlp_by_hand", "fwd.L0.linear"), [-0.5, 1.5], atol=1e-15)
    np.testing.assert_allclose(out("mlp_by_hand", "fwd.L0.act"), r["h"], atol=1e-15)
    np.testing.assert_allclose(out("mlp_by_hand", "fwd.L1.linear"), r["y"], atol=1e-15)
    assert trace("mlp_by_hand").loss == pytest.approx(0.25, abs=1e-15)


def test_mlp_by_hand_gradients_match_paper():
    r = mlp_by_hand(W1, np.zeros(2), W2, np.zeros(1))
    np.testing.assert_allclose(r["dW2"], [[0.0, 1.5]])
    np.testing.assert_allclose(r["dW1"], [[0.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(r["db1"], [0.0, 1.0])
    np.testing.assert_allclose(r["db2"], [1.0])
    g = trace("mlp_by_hand").grads
    np.testing.assert_allclose(g["layers.1.W"], r["dW2"].T, atol=1e-15)  # stored [in, out]
    np.testing.assert_allclose(g["layers.0.W"], r["dW1"].T, atol=1e-15)
    np.testing.assert_allclose(g["layers.0.b"], r["db1"], atol=1e-15)
    np.testing.assert_allclose(g["layers.1.b"], r["db2"], atol=1e-15)


def test_mlp_by_hand_momentum_step():
    lr, beta = 0.1, 0.9
    r = mlp_by_hand(W1, np.zeros(2), W2, np.zeros(1))
    new = {}
    for name, w, g in (("W1", W1, r["dW1"]), ("b1", np.zeros(2), r["db1"]),
                       ("W2", W2, r["dW2"]), ("b2", np.zeros(1), r["db2"])):
        v = beta * np.zeros_like(w) + g  # the velocity starts at zero
        new[name] = w - lr * v
    np.testing.assert_allclose(new["W1"], [[0.5, -0.5], [0.4, 0.3]])
    np.testing.assert_allclose(new["W2"], [[1.0, 0.85]])
    after = mlp_by_hand(new["W1"], new["b1"], new["W2"], new["b2"])
    np.testing.assert_allclose(after["y"], [0.665])
    assert after["loss"] == pytest.approx(0.112225)
    np.testing.assert_allclose(out("mlp_by_hand", "upd.layers.0.W", "w'"), new["W1"].T, atol=1e-15)
    np.testing.assert_allclose(out("mlp_by_hand", "upd.layers.1.W", "w'"), new["W2"].T, atol=1e-15)
    np.testing.assert_allclose(out("mlp_by_hand", "upd.layers.0.b", "w'"), new["b1"], atol=1e-15)
    assert trace("mlp_by_hand").losses == pytest.approx([0.25, after["loss"]], abs=1e-12)


# --- one step of SGD with momentum (notes: w = 0.5, g = 0.2, v = 0.1, α = 0.1, β = 0.9) ----------------------

def test_momentum_step_matches_paper():
    w, x, target, v, lr, beta = 0.5, 1.0, 0.4, 0.1, 0.1, 0.9
    g = 2 * (w * x - target) * x
    assert g == pytest.approx(0.2)
    v_new = beta * v + g
    w_new = w - lr * v_new
    assert v_new == pytest.approx(0.29)
    assert w_new == pytest.approx(0.471)
    assert trace("momentum_step").grads["layers.0.W"][0, 0] == pytest.approx(0.2, abs=1e-15)
    assert out("momentum_step", "upd.layers.0.W", "v'")[0, 0] == pytest.approx(0.29, abs=1e-15)
    assert out("momentum_step", "upd.layers.0.W", "w'")[0, 0] == pytest.approx(0.471, abs=1e-15)
    assert trace("momentum_step").losses[-1] == pytest.approx((w_new - target) ** 2, abs=1e-15)


# --- attention by hand (notes: Q = K = I₂, V = [[1, 2], [3, 4]]) --------------------------------------------

def test_attention_by_hand_matches_paper():
    q = k = np.eye(2)
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = softmax(q @ k.T / math.sqrt(2))
    z = a @ v
    # written out: softmax([1/√2, 0]) = [e^(1/√2), 1] / (e^(1/√2) + 1)
    a0 = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    assert a[0, 0] == pytest.approx(a0) and a0 == pytest.approx(0.66976, abs=1e-5)
    np.testing.assert_allclose(z, [[1.66048, 2.66048], [2.33952, 3.33952]], atol=1e-5)
    np.testing.assert_allclose(out("attention_by_hand", "fwd.L0.attn.q"), q, atol=1e-15)
    np.testing.assert_allclose(out("attention_by_hand", "fwd.L0.attn.k"), k, atol=1e-15)
    np.testing.assert_allclose(out("attention_by_hand", "fwd.L0.attn.v"), v, atol=1e-15)
    np.testing.assert_allclose(out("attention_by_hand", "fwd.L0.attn.softmax"), a, atol=1e-15)
    np.testing.assert_allclose(out("attention_by_hand", "fwd.L0.attn.values"), z, atol=1e-14)


# --- softmax([1, 2, 3]) vs softmax([10, 20, 30]) ---------------------------------------------------------------

def test_the_two_softmaxes():
    small, big = softmax([1.0, 2.0, 3.0]), softmax([10.0, 20.0, 30.0])
    np.testing.assert_allclose(small, [0.090, 0.245, 0.665], atol=5e-4)
    np.testing.assert_allclose(big, [2.1e-9, 4.5e-5, 0.99995], rtol=0.02)
    for name, scores, want in (("softmax_1_2_3", [1, 2, 3], small), ("softmax_10_20_30", [10, 20, 30], big)):
        np.testing.assert_array_equal(out(name, "fwd.L0.attn.scores")[0], scores)  # row I, exactly
        np.testing.assert_allclose(out(name, "fwd.L0.attn.softmax")[0], want, rtol=1e-12, atol=1e-300)


def test_saturated_softmax_passes_back_almost_nothing():
    def row_grad(name):
        return np.abs(out(name, "bwd.L0.attn.softmax")[0]).max()
    assert row_grad("softmax_10_20_30") < row_grad("softmax_1_2_3") / 1000


# --- XOR: linear layers stall at 0.25, a GELU solves it (Adam, 300 steps) --------------------------------------

def _gelu(z):
    erf = np.vectorize(math.erf)
    phi = 0.5 * (1 + erf(z / math.sqrt(2)))
    return z * phi, phi + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def train_xor_numpy(name: str) -> list[float]:
    """The scenario's starting weights trained with a hand-written forward, backward and Adam."""
    sc = scenario(name)
    x = np.array(sc.features, dtype=np.float64)
    t = np.array(sc.task.target, dtype=np.float64).reshape(len(x), -1)
    p = {k: v.copy() for k, v in sc.params.items()}
    o = sc.optim
    m = {k: np.zeros_like(v) for k, v in p.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}

    def loss_grads(p):
        z = x @ p["layers.0.W"] + p["layers.0.b"]
        h, dh_dz = _gelu(z) if sc.model.activation == "gelu" else (z, np.ones_like(z))
        y = h @ p["layers.1.W"] + p["layers.1.b"]
        dy = 2 * (y - t) / y.size
        dz = (dy @ p["layers.1.W"].T) * dh_dz
        return float(np.mean((y - t) ** 2)), {"layers.1.W": h.T @ dy, "layers.1.b": dy.sum(0),
                                              "layers.0.W": x.T @ dz, "layers.0.b": dz.sum(0)}

    losses = []
    for step in range(1, o.steps + 1):
        loss, g = loss_grads(p)
        losses.append(loss)
        for k in p:
            m[k] = o.beta1 * m[k] + (1 - o.beta1) * g[k]
            s[k] = o.beta2 * s[k] + (1 - o.beta2) * g[k] ** 2
            p[k] = p[k] - o.lr * (m[k] / (1 - o.beta1**step)) / (np.sqrt(s[k] / (1 - o.beta2**step)) + o.eps)
    losses.append(loss_grads(p)[0])
    return losses


@pytest.mark.parametrize("name", ["xor_gelu", "xor_linear"])
def test_xor_training_matches_a_numpy_rerun(name):
    ours, engine = train_xor_numpy(name), trace(name).losses
    assert len(ours) == len(engine) == 301
    np.testing.assert_allclose(engine[:101], ours[:101], rtol=1e-6, atol=1e-12)
    if name == "xor_gelu":
        assert ours[-1] < 0.05 and engine[-1] < 0.05
    else:
        assert ours[-1] >= 0.24 and engine[-1] >= 0.24


def test_xor_linear_floor_is_a_quarter():
    """The best affine fit of XOR (least squares over all four rows) has mean squared error exactly 0.25."""
    x = np.array([[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]], dtype=float)  # bias column, x1, x2
    t = np.array([0.0, 1.0, 1.0, 0.0])
    coef, *_ = np.linalg.lstsq(x, t, rcond=None)
    assert np.mean((x @ coef - t) ** 2) == pytest.approx(0.25)
    assert trace("xor_linear").losses[-1] == pytest.approx(0.25, abs=1e-6)


# --- √d_k: the numbers the lessons quote -----------------------------------------------------------------------

def test_sqrt_dk_variances():
    p = scenario("sqrt_dk_scaled").params
    q, k = p["layers.0.attn.W_Q"][:5], p["layers.0.attn.W_K"][:5]  # one-hot tokens pick rows 0 … 4
    raw = q @ k.T
    assert raw.var() == pytest.approx(480, abs=1)  # the lesson: "variance ≈ 480"; theory says d_k = 512
    assert (raw / math.sqrt(512)).var() == pytest.approx(0.94, abs=0.005)
    np.testing.assert_allclose(out("sqrt_dk_unscaled", "fwd.L0.attn.scores"), raw, atol=1e-10)
    np.testing.assert_allclose(out("sqrt_dk_scaled", "fwd.L0.attn.scale"), raw / math.sqrt(512), atol=1e-12)
    assert softmax(raw).max(axis=-1).min() > 0.9999  # unscaled: every row is (almost) one-hot
    assert softmax(raw / math.sqrt(512)).max() == pytest.approx(0.705, abs=0.001)
    # identical weights, so the whole difference in the gradient that reaches W_Q comes from the scale
    g_on = np.abs(trace("sqrt_dk_scaled").grads["layers.0.attn.W_Q"]).max()
    g_off = np.abs(trace("sqrt_dk_unscaled").grads["layers.0.attn.W_Q"]).max()
    assert 300 < g_on / g_off < 400


# --- sinusoidal positions: distance, not place ------------------------------------------------------------------

def test_positional_dot_products():
    d, n = 16, 20
    pe = np.zeros((n, d))
    for pos in range(n):
        for i in range(d // 2):
            pe[pos, 2 * i] = math.sin(pos / 10000 ** (2 * i / d))
            pe[pos, 2 * i + 1] = math.cos(pos / 10000 ** (2 * i / d))
    want = sum(math.cos(10 / 10000 ** (2 * i / d)) for i in range(d // 2))
    assert pe[5] @ pe[15] == pytest.approx(want) and want == pytest.approx(3.6463, abs=1e-4)
    assert pe[0] @ pe[10] == pytest.approx(want) and pe[9] @ pe[19] == pytest.approx(want)
    s = out("positional_sincos", "fwd.L0.attn.scores")
    np.testing.assert_allclose(s, pe @ pe.T, atol=1e-12)
    assert s[5, 15] == pytest.approx(3.6463, abs=1e-4) and s[5, 5] == pytest.approx(8.0)


# --- parameter counting -----------------------------------------------------------------------------------------

def test_param_count_by_formula():
    d, d_ff, n_layers, vocab, max_len, n_out = 8, 32, 2, 6, 8, 3
    layer = (4 * d * d + 4 * d) + (2 * d * d_ff + d_ff + d) + 4 * d
    total = vocab * d + max_len * d + n_layers * layer + 2 * d + d * n_out + n_out
    assert layer == 872 and total == 1899
    sc = scenario("param_count")
    assert len(sc.vocab) == vocab
    assert sum(v.size for v in sc.params.values()) == total


# --- the pairs: what one file claims about its twin -------------------------------------------------------------

def test_pizza_encoder_and_decoder_differ_only_by_the_mask():
    enc = out("pizza_encoder", "fwd.L0.attn.scores")
    dec = out("pizza_decoder", "fwd.L0.attn.scores")
    np.testing.assert_allclose(enc[:3, :3], dec, atol=1e-14)  # same weights, same first three tokens
    assert np.isfinite(out("pizza_encoder", "fwd.L0.attn.mask")).all()
    dec_mask = out("pizza_decoder", "fwd.L0.attn.mask")
    np.testing.assert_array_equal(np.isfinite(dec_mask), np.tril(np.ones((3, 3), dtype=bool)))


def test_eight_heads_add_up_to_one():
    one = out("multihead_1x512", "fwd.L0.attn.scores")
    heads = sum(out("multihead_8x64", f"fwd.L0.attn.h{h}.scores") for h in range(8))
    np.testing.assert_allclose(heads, one, atol=1e-11)
    a, b = scenario("multihead_8x64").params, scenario("multihead_1x512").params
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_pre_norm_passes_the_input_through_post_norm_does_not():
    x = out("norm_pre", "fwd.pos", "X")
    np.testing.assert_array_equal(x, out("norm_post", "fwd.pos", "X"))
    pre0, pre1 = out("norm_pre", "fwd.L0.res2"), out("norm_pre", "fwd.L1.res2")
    assert np.abs(pre0 - x).max() < 0.011 and np.abs(pre1 - pre0).max() < 0.008
    post0 = out("norm_post", "fwd.L0.ln2")
    assert np.abs(post0 - x).max() > 1.0


def test_param_count_doubling_d_with_d_ff_fixed():
    """The lesson's what-if: one layer at d_ff = 2048 (biases, two LayerNorms), d = 512 and then 1024."""
    def layer(d, f):
        return 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d
    assert layer(512, 2048) == 3_152_384 and layer(1024, 2048) == 8_399_872
    assert round(layer(1024, 2048) / layer(512, 2048), 2) == 2.66


def test_positional_rotation_by_row_k_sends_row_p_to_row_p_plus_k():
    """positional_sincos's lesson: turning each (sin, cos) pair of PE[p] by the angle whose sine and cosine
    are PE[k]'s gives PE[p + k]; and a query turned by 5 positions tells position 15 from position 5."""
    pe = out("positional_sincos", "fwd.pos", "PE")
    for p, k in ((5, 10), (0, 10), (3, 7)):
        s, c = pe[p, 0::2], pe[p, 1::2]
        sk, ck = pe[k, 0::2], pe[k, 1::2]
        np.testing.assert_allclose(s * ck + c * sk, pe[p + k, 0::2], atol=1e-12)
        np.testing.assert_allclose(c * ck - s * sk, pe[p + k, 1::2], atol=1e-12)
    S = out("positional_sincos", "fwd.L0.attn.scores")
    assert S[15, 15] == pytest.approx(8) and S[15, 5] == pytest.approx(3.646, abs=5e-4)
    assert S[10, 5] == pytest.approx(S[10, 15])


# --- tokens_word / tokens_char / tokens_bpe: one text, three tokenizers (scenarios/README.md's numbers) -------

def test_the_three_tokenizers_give_the_lengths_and_vocabularies_the_readme_states():
    word, char, bpe = (scenario(f"tokens_{k}") for k in ("word", "char", "bpe"))
    assert (len(word.tokens), len(word.vocab)) == (6, 18)
    assert (len(char.tokens), len(char.vocab)) == (22, 16)
    assert (len(bpe.tokens), len(bpe.vocab), len(bpe.bpe.merges)) == (8, 30, 14)
    assert " ".join(bpe.tokens) == "▁the ▁c at ▁sat ▁on ▁the ▁m at"
    assert bpe.bpe.merges[0] == ("a", "t") and bpe.bpe.counts[0] == 18
    assert list(bpe.data.validation[0].tokens[:4]) == ["▁the", "▁", "<unk>", "ats"]
    assert "b" not in bpe.vocab and "b" in char.vocab  # learned on the training sentences only


def test_the_held_out_word_keeps_its_random_row_under_word_tokens():
    """tokens_word's lesson: "bats" is in the derived vocab, but no training sentence has it, so training leaves
    its row of embed.tok as it was drawn."""
    sc, tr = scenario("tokens_word"), trace("tokens_word")
    row = sc.vocab.index("bats")
    assert not any("bats" in ex.tokens for ex in sc.data.examples)
    np.testing.assert_array_equal(tr.trained["embed.tok"][row], sc.params["embed.tok"][row])
    assert not np.array_equal(tr.trained["embed.tok"][sc.vocab.index("cat")], sc.params["embed.tok"][sc.vocab.index("cat")])
