"""The torch reference against third-party implementations and against numbers worked out by hand.

The reference is what the engine is judged by, so it is itself judged by something it did
not write: torch.nn.TransformerEncoderLayer with our parameters copied in, F.cross_entropy,
and tiny cases whose answers fit in a comment.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from stepper.scenario import parse_scenario
from stepper.verify.reference import torch_reference

TOL = 1e-10
VOCAB = ["<pad>", "I", "am", "happy", "sad", "very"]


def scenario(model: dict, tokens=None, task=None, values=None, vocab=None, features=None, seed=0):
    doc = {"name": "t", "model": model, "input": {}, "task": task or {},
           "weights": {"seed": seed, "init": {"std": 0.5, "bias_std": 0.3}, "values": values or {}}}
    if features is not None:
        doc["input"]["features"] = features
    else:
        doc["input"]["vocab"] = vocab or VOCAB
        doc["input"]["tokens"] = tokens
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False))


def encoder(**model):
    base = {"kind": "encoder", "d_model": 4, "n_heads": 2, "n_layers": 1, "d_ff": 6, "positional": "sinusoidal"}
    return {**base, **model}


CLASSIFY = {"kind": "classify", "classes": ["neg", "pos", "meh"], "label": "pos"}


def t(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


def close(a, b, tol=TOL):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.max(np.abs(a - b), initial=0.0) <= tol, np.max(np.abs(a - b))


# ---------------------------------------------------------------- torch.nn.TransformerEncoderLayer

# the layer takes "relu" and "gelu" by name, any other curve as a callable
NN_ACTIVATION = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "square": torch.square, "exp": torch.exp}

def nn_layer(sc, i: int) -> torch.nn.TransformerEncoderLayer:
    m, p, P = sc.model, sc.params, f"layers.{i}"
    layer = torch.nn.TransformerEncoderLayer(
        d_model=m.d_model, nhead=m.n_heads, dim_feedforward=m.d_ff, dropout=0.0,
        activation=NN_ACTIVATION.get(m.activation, m.activation),
        layer_norm_eps=m.norm_eps, batch_first=True, norm_first=m.norm == "pre", dtype=torch.float64)
    with torch.no_grad():
        # nn.Linear keeps weight [out, in]; the contract's W is [in, out]
        layer.self_attn.in_proj_weight.copy_(torch.cat([t(p[f"{P}.attn.W_{n}"]).T for n in "QKV"]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([t(p[f"{P}.attn.b_{n}"]) for n in "QKV"]))
        layer.self_attn.out_proj.weight.copy_(t(p[f"{P}.attn.W_O"]).T)
        layer.self_attn.out_proj.bias.copy_(t(p[f"{P}.attn.b_O"]))
        layer.linear1.weight.copy_(t(p[f"{P}.ffn.W_1"]).T)
        layer.linear1.bias.copy_(t(p[f"{P}.ffn.b_1"]))
        layer.linear2.weight.copy_(t(p[f"{P}.ffn.W_2"]).T)
        layer.linear2.bias.copy_(t(p[f"{P}.ffn.b_2"]))
        for k in (1, 2):
            getattr(layer, f"norm{k}").weight.copy_(t(p[f"{P}.ln{k}.gamma"]))
            getattr(layer, f"norm{k}").bias.copy_(t(p[f"{P}.ln{k}.beta"]))
    return layer.eval()


def nn_grads(layer, i: int) -> dict[str, torch.Tensor]:
    """The layer's parameter grads under contract names and layout."""
    P, a, d = f"layers.{i}", layer.self_attn, layer.self_attn.embed_dim
    out = {}
    for k, n in enumerate("QKV"):
        out[f"{P}.attn.W_{n}"] = a.in_proj_weight.grad[k * d:(k + 1) * d].T
        out[f"{P}.attn.b_{n}"] = a.in_proj_bias.grad[k * d:(k + 1) * d]
    out[f"{P}.attn.W_O"], out[f"{P}.attn.b_O"] = a.out_proj.weight.grad.T, a.out_proj.bias.grad
    out[f"{P}.ffn.W_1"], out[f"{P}.ffn.b_1"] = layer.linear1.weight.grad.T, layer.linear1.bias.grad
    out[f"{P}.ffn.W_2"], out[f"{P}.ffn.b_2"] = layer.linear2.weight.grad.T, layer.linear2.bias.grad
    for k in (1, 2):
        out[f"{P}.ln{k}.gamma"] = getattr(layer, f"norm{k}").weight.grad
        out[f"{P}.ln{k}.beta"] = getattr(layer, f"norm{k}").bias.grad
    return out


def run_layers(sc, x0: torch.Tensor, ids: list[int], causal: bool):
    """nn layers over x0 [T, D], masking `<pad>` keys (and the future, when causal)."""
    n = len(ids)
    pad = torch.tensor([[i == 0 for i in ids]])  # VOCAB[0] is <pad>
    mask = torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64) if causal else None
    key_pad = torch.zeros(1, n, dtype=torch.float64).masked_fill(pad, float("-inf"))
    layers = [nn_layer(sc, i) for i in range(sc.model.n_layers)]
    h = x0[None]
    for layer in layers:
        h = layer(h, src_mask=mask, src_key_padding_mask=key_pad)
    return layers, h[0]


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("activation", ["gelu", "relu", "tanh", "sigmoid", "square", "exp"])
@pytest.mark.parametrize("tokens", [["I", "am", "very", "happy"], ["I", "<pad>", "sad", "<pad>"]],
                         ids=["plain", "pad"])
def test_encoder_layer_matches_nn_transformer_encoder_layer(norm, activation, tokens):
    sc = scenario(encoder(norm=norm, activation=activation, pooling="mean"), tokens, CLASSIFY)
    ref = torch_reference(sc)
    x0 = t(ref.get("x0")).requires_grad_(True)
    layers, out = run_layers(sc, x0, sc.token_ids, causal=False)
    close(out, ref.get("L0.ln2" if norm == "post" else "L0.res2"))

    # the same head and loss written independently: mean over the non-<pad> rows, linear, cross-entropy
    head_w = t(sc.params["head.W"]).requires_grad_(True)
    head_b = t(sc.params["head.b"]).requires_grad_(True)
    keep = [k for k, tok in enumerate(tokens) if tok != "<pad>"]
    logits = out[keep].mean(dim=0) @ head_w + head_b
    loss = F.cross_entropy(logits[None], torch.tensor([sc.task.label_index]))
    loss.backward()
    close(logits, ref.get("logits"))
    assert abs(loss.item() - ref.loss) <= TOL
    for name, grad in nn_grads(layers[0], 0).items():
        close(grad, ref.get("d:" + name))
    close(x0.grad, ref.get("d:x0"))
    close(head_w.grad, ref.get("d:head.W"))
    close(head_b.grad, ref.get("d:head.b"))


def sinusoidal_by_hand(n: int, d: int) -> np.ndarray:
    pe = np.zeros((n, d))
    for pos in range(n):
        for j in range(d):
            angle = pos / 10000 ** (2 * (j // 2) / d)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize("tokens", [["I", "am", "very", "happy", "sad"], ["I", "am", "<pad>", "sad", "<pad>"]],
                         ids=["plain", "pad"])
@pytest.mark.parametrize("norm", ["post", "pre"])
def test_decoder_matches_causal_nn_layers_end_to_end(tokens, norm):
    """Two causal layers, final LayerNorm and a tied head: embed.tok gets grads from both ends."""
    model = encoder(kind="decoder", n_layers=2, norm=norm, final_norm=True, tie_embeddings=True)
    sc = scenario(model, tokens, {"kind": "next_token"})
    ref = torch_reference(sc)
    ids = sc.token_ids
    emb = t(sc.params["embed.tok"]).requires_grad_(True)
    x0 = emb[ids[:-1]] + t(sinusoidal_by_hand(len(ids) - 1, 4))
    close(x0, ref.get("x0"))
    layers, out = run_layers(sc, x0, ids[:-1], causal=True)
    close(out, ref.get("L1.ln2" if norm == "post" else "L1.res2"))
    ln_f = torch.nn.LayerNorm(4, eps=sc.model.norm_eps, dtype=torch.float64)
    with torch.no_grad():
        ln_f.weight.copy_(t(sc.params["ln_f.gamma"]))
        ln_f.bias.copy_(t(sc.params["ln_f.beta"]))
    logits = ln_f(out) @ emb.T
    loss = F.cross_entropy(logits, torch.tensor(ids[1:]), ignore_index=0)  # <pad> targets do not count
    loss.backward()
    close(logits, ref.get("logits"))
    assert abs(loss.item() - ref.loss) <= TOL
    for i, layer in enumerate(layers):
        for name, grad in nn_grads(layer, i).items():
            close(grad, ref.get("d:" + name))
    close(emb.grad, ref.get("d:embed.tok"))
    close(ln_f.weight.grad, ref.get("d:ln_f.gamma"))
    close(ln_f.bias.grad, ref.get("d:ln_f.beta"))


def test_loss_is_cross_entropy_on_logits():
    sc = scenario(encoder(kind="decoder"), ["I", "am", "happy", "I"], {"kind": "next_token"})
    ref = torch_reference(sc)
    logits = t(ref.get("logits")).requires_grad_(True)
    loss = F.cross_entropy(logits, torch.tensor(sc.token_ids[1:]))
    loss.backward()
    assert abs(loss.item() - ref.loss) <= 1e-12
    close(logits.grad, ref.get("d:logits"), 1e-12)
    close(torch.softmax(logits, -1), ref.get("probs"), 1e-15)


@pytest.mark.parametrize("kind", ["classify", "next_token"])
def test_a_saturated_softmax_gives_a_finite_loss_and_gradient(kind):
    # init.std 100 (the documented maximum): the logits are thousands apart, and the right answer's
    # probability underflows to exactly 0; its log is still finite, and dL/dz is still p − onehot
    model = encoder(kind="decoder" if kind == "next_token" else "encoder", norm="none")
    task = {"kind": "next_token"} if kind == "next_token" else CLASSIFY
    sc = parse_scenario(yaml.safe_dump({"name": "t", "model": model, "task": task,
                                        "input": {"vocab": VOCAB, "tokens": ["I", "am", "happy", "I"]},
                                        "weights": {"seed": 3, "init": {"std": 100.0}}}))
    ref = torch_reference(sc)
    p = ref.get("probs").reshape(-1, ref.get("probs").shape[-1])
    targets = sc.token_ids[1:] if kind == "next_token" else [sc.task.label_index]
    assert min(p[np.arange(len(targets)), targets]) == 0.0, "the case must underflow to test anything"
    z = ref.get("logits").reshape(p.shape)
    expected = -np.mean([(z[i] - z[i].max())[y] - math.log(np.exp(z[i] - z[i].max()).sum())
                         for i, y in enumerate(targets)])
    assert math.isfinite(ref.loss) and abs(ref.loss - expected) <= 1e-12 * expected
    onehot = np.eye(p.shape[1])[targets]
    close(ref.get("d:logits").reshape(p.shape), (p - onehot) / len(targets), 1e-15)


# ---------------------------------------------------------------- cases worked out by hand

def attention_case(scale=True, kind="encoder", tokens=("I", "am")):
    values = {"embed.tok": [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]],
              "layers.0.attn.W_Q": [[1, 0], [0, 1]], "layers.0.attn.W_K": [[1, 0], [0, 1]],
              "layers.0.attn.W_V": [[1, 2], [3, 4]]}
    model = {"kind": kind, "d_model": 2, "n_heads": 1, "d_ff": 2, "norm": "none", "positional": "none",
             "bias": False, "attention_scale": scale}
    task = {"kind": "next_token"} if kind == "decoder" else CLASSIFY
    return torch_reference(scenario(model, list(tokens), task, values))


def test_attention_by_hand_q_k_identity():
    ref = attention_case()
    # Q = K = I₂, so S = I / √2 and each token leans towards itself
    close(ref.get("L0.attn.S"), np.eye(2)[None] / math.sqrt(2), 1e-15)
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    close(ref.get("L0.attn.A"), [[[a, 1 - a], [1 - a, a]]], 1e-15)
    v1, v2 = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    close(ref.get("L0.attn.Z"), [[a * v1 + (1 - a) * v2, (1 - a) * v1 + a * v2]], 1e-14)


def test_attention_without_scale_has_no_s_key():
    ref = attention_case(scale=False)
    a = math.e / (math.e + 1)  # softmax([1, 0])
    close(ref.get("L0.attn.A"), [[[a, 1 - a], [1 - a, a]]], 1e-15)
    close(ref.get("L0.attn.S_masked"), ref.get("L0.attn.S_raw"), 0.0)
    with pytest.raises(KeyError, match="L0.attn.S"):
        ref.get("L0.attn.S")


def test_pad_key_is_masked_for_every_query_row():
    ref = attention_case(tokens=("I", "<pad>", "am"))
    s = ref.get("L0.attn.S_masked")[0]
    assert np.all(s[:, 1] == -np.inf) and np.isfinite(np.delete(s, 1, axis=1)).all()
    a = ref.get("L0.attn.A")[0]
    assert np.all(a[:, 1] == 0.0)
    close(a.sum(axis=1), np.ones(3), 1e-15)
    # the <pad> row itself is the zero embedding here: equal scores for I and am
    close(a[1], [0.5, 0.0, 0.5], 1e-15)
    # masked entries pass no gradient back
    assert np.all(ref.get("d:L0.attn.S_raw")[0][:, 1] == 0.0)


def test_decoder_mask_is_causal():
    ref = attention_case(kind="decoder", tokens=("I", "am", "I"))
    a = ref.get("L0.attn.A")[0]
    own = math.exp(1 / math.sqrt(2)) / (1 + math.exp(1 / math.sqrt(2)))  # row 2 sees [0, 1/√2]
    close(a, [[1.0, 0.0], [1 - own, own]], 1e-15)
    assert ref.get("L0.attn.S_masked")[0][0, 1] == -np.inf


def mlp(sizes, features, task, values, activation="relu"):
    model = {"kind": "mlp", "sizes": sizes, "activation": activation, "bias": False}
    return torch_reference(scenario(model, task=task,
                                    values=values, features=features))


def test_softmax_of_1_2_3():
    ref = mlp([1, 3], [1.0], {"kind": "classify", "classes": ["a", "b", "c"], "label": "c"},
              {"layers.0.W": [[1, 2, 3]]})
    close(ref.get("logits"), [1, 2, 3], 0.0)
    e = np.exp([1.0, 2.0, 3.0])
    close(ref.get("probs"), e / e.sum(), 1e-15)
    close(ref.get("probs"), [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], 1e-15)
    assert abs(ref.loss + math.log(0.6652409557748219)) <= 1e-15
    close(ref.get("d:logits"), e / e.sum() - [0, 0, 1], 1e-15)


def test_mlp_regress_by_hand():
    # z0 = [1, -1], h0 = relu = [1, 0], pred = h0 @ [[2], [3]] = 2, loss = (2 - 0.5)² = 2.25
    ref = mlp([2, 2, 1], [1.0, -1.0], {"kind": "regress", "target": 0.5},
              {"layers.0.W": [[1, 0], [0, 1]], "layers.1.W": [[2], [3]]})
    close(ref.get("L0.h"), [1, 0], 0.0)
    close(ref.get("pred"), [2], 0.0)
    assert ref.loss == 2.25
    close(ref.get("d:pred"), [3.0], 0.0)
    close(ref.get("d:layers.1.W"), [[3.0], [0.0]], 0.0)
    close(ref.get("d:L0.z"), [6.0, 0.0], 0.0)  # relu passes d:h0 = [6, 9] only where z > 0
    close(ref.get("d:L1.z<-pred"), [3.0], 0.0)


# ---------------------------------------------------------------- keys, partials, errors

def test_partials_through_one_operation_add_up():
    sc = scenario(encoder(norm="post"), ["I", "am", "sad"], CLASSIFY)
    ref = torch_reference(sc)
    terms = [ref.get(f"d:x0<-L0.{k}") for k in ("attn.Q", "attn.K", "attn.V", "res1")]
    close(sum(terms), ref.get("d:x0"), 1e-14)
    # the residual's own share is just its upstream gradient, not the whole of d:x0
    close(ref.get("d:x0<-L0.res1"), ref.get("d:L0.res1"), 0.0)
    close(ref.get("d:L0.ln1<-L0.ffn.H") + ref.get("d:L0.ln1<-L0.res2"), ref.get("d:L0.ln1"), 1e-14)
    close(ref.get("d:layers.0.attn.W_Q<-L0.attn.Q"), ref.get("d:layers.0.attn.W_Q"), 0.0)


def test_tied_head_partial_is_the_head_share_only():
    sc = scenario(encoder(kind="decoder", tie_embeddings=True), ["I", "am", "happy"], {"kind": "next_token"})
    ref = torch_reference(sc)
    head = ref.get("d:embed.tok<-logits")
    close(head, ref.get("d:logits").T @ ref.get("L0.ln2"), 1e-14)
    close(head + ref.get("d:embed.tok<-tok_emb"), ref.get("d:embed.tok"), 1e-14)


@pytest.mark.parametrize("model", [encoder(norm="post"), encoder(norm="pre", n_layers=2, final_norm=True),
                                   encoder(kind="decoder", tie_embeddings=True, positional="learned", max_len=5)])
def test_partials_tapped_in_the_backward_equal_a_rerun_of_the_operation(model):
    from stepper.engine import build_trace
    from stepper.verify.reference import partial_keys

    task = {"kind": "next_token"} if model["kind"] == "decoder" else CLASSIFY
    sc = scenario(model, ["I", "am", "happy"], task)
    tapped, rerun = torch_reference(sc, given=build_trace(sc)), torch_reference(sc)
    edges = partial_keys(build_trace(sc))
    assert edges and set(tapped._g.edges) == edges and not rerun._g.edges
    for inp, out in edges:
        close(tapped.get(f"d:{inp}<-{out}"), rerun.get(f"d:{inp}<-{out}"), 1e-15)


def test_pre_norm_partials_and_learned_positions():
    sc = scenario(encoder(norm="pre", positional="learned", max_len=6, pooling="last"), ["I", "am"], CLASSIFY)
    ref = torch_reference(sc)
    close(ref.get("d:x0<-L0.ln1") + ref.get("d:x0<-L0.res1"), ref.get("d:x0"), 1e-14)
    close(ref.get("pos"), sc.params["embed.pos"][:2], 0.0)
    close(ref.get("d:embed.pos")[2:], np.zeros((4, 4)), 0.0)
    close(ref.get("pooled"), ref.get("L0.res2")[-1], 0.0)


def test_pooling_first_and_sinusoidal_positions():
    sc = scenario(encoder(pooling="first"), ["I", "am", "happy"], CLASSIFY)
    ref = torch_reference(sc)
    close(ref.get("pos"), sinusoidal_by_hand(3, 4), 1e-15)
    close(ref.get("pooled"), ref.get("L0.ln2")[0], 0.0)
    close(ref.get("d:pos"), ref.get("d:x0"), 0.0)


def test_missing_and_indirect_keys_raise_clear_key_errors():
    ref = torch_reference(scenario(encoder(), ["I", "am"], CLASSIFY))
    with pytest.raises(KeyError, match="no quantity `L7.attn.Q`"):
        ref.get("L7.attn.Q")
    with pytest.raises(KeyError, match="not a direct input"):
        ref.get("d:x0<-L0.attn.S_raw")
    with pytest.raises(KeyError, match="no quantity `nope`"):
        ref.get("d:nope")


def test_grads_cover_every_parameter():
    sc = scenario(encoder(n_layers=2, final_norm=True), ["I", "am"], CLASSIFY)
    ref = torch_reference(sc)
    assert list(ref.grads) == list(sc.params)
    for name, g in ref.grads.items():
        assert g.shape == sc.params[name].shape


def test_fd_module_does_not_import_torch():
    code = "import sys, stepper.verify.fd; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
