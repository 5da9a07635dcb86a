"""`stepper export --format json` against torch.nn's own transformer layers, end to end.

Every weight is written into the scenario file explicitly; torch.nn.TransformerEncoderLayer
(with our weights copied in) computes the same model; loss, logits and every gradient must
agree to 1e-9. Covers a post-norm encoder, a pre-norm encoder and a GPT-2-style decoder
(learned positions, tanh-GELU, final LayerNorm, tied head, 2 layers, 2 heads).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

TOL = 1e-9
rng = np.random.default_rng(42)


def write_scenario(tmp_path, model: dict, vocab, tokens, task, values) -> str:
    doc = {"name": "third-party", "model": model, "input": {"vocab": vocab, "tokens": tokens}, "task": task,
           "weights": {"values": {k: v.tolist() for k, v in values.items()}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def export_json(path: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "stepper", "export", path, "--format", "json", "--no-verify"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def random_params(d, f, n_layers, vocab, n_out=None, learned_len=None, tied=False):
    p = {"embed.tok": rng.normal(size=(vocab, d))}
    if learned_len:
        p["embed.pos"] = rng.normal(size=(learned_len, d))
    for i in range(n_layers):
        pre = f"layers.{i}"
        for m in "QKVO":
            p[f"{pre}.attn.W_{m}"] = rng.normal(size=(d, d)) * 0.5
            p[f"{pre}.attn.b_{m}"] = rng.normal(size=d) * 0.1
        for n in (1, 2):
            p[f"{pre}.ln{n}.gamma"] = 1 + rng.normal(size=d) * 0.1
            p[f"{pre}.ln{n}.beta"] = rng.normal(size=d) * 0.1
        p[f"{pre}.ffn.W_1"], p[f"{pre}.ffn.b_1"] = rng.normal(size=(d, f)) * 0.5, rng.normal(size=f) * 0.1
        p[f"{pre}.ffn.W_2"], p[f"{pre}.ffn.b_2"] = rng.normal(size=(f, d)) * 0.5, rng.normal(size=d) * 0.1
    if not tied:
        p["head.W"], p["head.b"] = rng.normal(size=(d, n_out)), rng.normal(size=n_out) * 0.1
    return p


def nn_layer(p, i, d, heads, f, norm_first, act):
    layer = torch.nn.TransformerEncoderLayer(d, heads, f, dropout=0.0, activation=act, batch_first=True,
                                             norm_first=norm_first, dtype=torch.float64)
    pre = f"layers.{i}"
    T = lambda name: torch.from_numpy(p[f"{pre}.{name}"])  # noqa: E731
    with torch.no_grad():
        # nn.Linear keeps weights [out, in]; the contract stores [in, out]
        layer.self_attn.in_proj_weight.copy_(torch.cat([T(f"attn.W_{m}").T for m in "QKV"]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([T(f"attn.b_{m}") for m in "QKV"]))
        layer.self_attn.out_proj.weight.copy_(T("attn.W_O").T)
        layer.self_attn.out_proj.bias.copy_(T("attn.b_O"))
        layer.linear1.weight.copy_(T("ffn.W_1").T)
        layer.linear1.bias.copy_(T("ffn.b_1"))
        layer.linear2.weight.copy_(T("ffn.W_2").T)
        layer.linear2.bias.copy_(T("ffn.b_2"))
        layer.norm1.weight.copy_(T("ln1.gamma"))
        layer.norm1.bias.copy_(T("ln1.beta"))
        layer.norm2.weight.copy_(T("ln2.gamma"))
        layer.norm2.bias.copy_(T("ln2.beta"))
    return layer


def nn_grads(layer, i) -> dict[str, np.ndarray]:
    pre, d = f"layers.{i}", layer.self_attn.embed_dim
    g = {}
    w, b = layer.self_attn.in_proj_weight.grad, layer.self_attn.in_proj_bias.grad
    for j, m in enumerate("QKV"):
        g[f"{pre}.attn.W_{m}"] = w[j * d:(j + 1) * d].T.numpy()
        g[f"{pre}.attn.b_{m}"] = b[j * d:(j + 1) * d].numpy()
    g[f"{pre}.attn.W_O"], g[f"{pre}.attn.b_O"] = layer.self_attn.out_proj.weight.grad.T.numpy(), layer.self_attn.out_proj.bias.grad.numpy()
    g[f"{pre}.ffn.W_1"], g[f"{pre}.ffn.b_1"] = layer.linear1.weight.grad.T.numpy(), layer.linear1.bias.grad.numpy()
    g[f"{pre}.ffn.W_2"], g[f"{pre}.ffn.b_2"] = layer.linear2.weight.grad.T.numpy(), layer.linear2.bias.grad.numpy()
    for n, norm in ((1, layer.norm1), (2, layer.norm2)):
        g[f"{pre}.ln{n}.gamma"], g[f"{pre}.ln{n}.beta"] = norm.weight.grad.numpy(), norm.bias.grad.numpy()
    return g


def assert_matches(ours: dict, loss, logits, grads):
    assert abs(ours["loss"] - loss.item()) <= TOL
    assert np.max(np.abs(np.array(ours["logits"]) - logits.detach().numpy())) <= TOL
    assert set(ours["grads"]) == set(grads)
    for name, g in grads.items():
        assert np.max(np.abs(np.array(ours["grads"][name]) - g)) <= TOL, name


def sinusoidal(t, d):
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), i / d)
    pe = torch.zeros(t, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_encoder_classifier_matches_nn_transformer_encoder_layer(tmp_path, norm):
    d, heads, f, vocab = 6, 2, 10, ["<pad>", "I", "love", "pizza", "not"]
    tokens, classes = ["I", "love", "not", "pizza"], ["neg", "pos"]
    p = random_params(d, f, 1, len(vocab), n_out=2)
    model = {"kind": "encoder", "d_model": d, "n_heads": heads, "n_layers": 1, "d_ff": f, "activation": "gelu",
             "norm": norm, "positional": "sinusoidal", "pooling": "mean"}
    ours = export_json(write_scenario(tmp_path, model, vocab, tokens, {"kind": "classify", "classes": classes,
                                                                        "label": "pos"}, p))
    layer = nn_layer(p, 0, d, heads, f, norm_first=norm == "pre", act="gelu")
    tok = torch.from_numpy(p["embed.tok"]).requires_grad_(True)
    head_w, head_b = (torch.from_numpy(p[k]).requires_grad_(True) for k in ("head.W", "head.b"))
    ids = torch.tensor([vocab.index(t) for t in tokens])
    x = F.embedding(ids, tok) + sinusoidal(len(tokens), d)
    h = layer(x[None])[0]
    logits = h.mean(0) @ head_w + head_b
    loss = F.cross_entropy(logits[None], torch.tensor([1]))
    loss.backward()
    grads = {"embed.tok": tok.grad.numpy(), **nn_grads(layer, 0), "head.W": head_w.grad.numpy(),
             "head.b": head_b.grad.numpy()}
    assert_matches(ours, loss, logits, grads)


def test_gpt2_style_decoder_matches_nn_layers(tmp_path):
    d, heads, f, n_layers, max_len = 8, 2, 16, 2, 8
    vocab = ["<pad>", "a", "b", "c", "d", "e"]
    tokens = ["a", "b", "c", "a", "d", "e", "b"]
    p = random_params(d, f, n_layers, len(vocab), learned_len=max_len, tied=True)
    p["ln_f.gamma"], p["ln_f.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1
    model = {"kind": "decoder", "d_model": d, "n_heads": heads, "n_layers": n_layers, "d_ff": f,
             "activation": "gelu_tanh", "norm": "pre", "final_norm": True, "positional": "learned",
             "max_len": max_len, "tie_embeddings": True}
    ours = export_json(write_scenario(tmp_path, model, vocab, tokens, {"kind": "next_token"}, p))

    gelu_tanh = lambda x: F.gelu(x, approximate="tanh")  # noqa: E731
    layers = [nn_layer(p, i, d, heads, f, norm_first=True, act=gelu_tanh) for i in range(n_layers)]
    tok, pos, g, b = (torch.from_numpy(p[k]).requires_grad_(True)
                      for k in ("embed.tok", "embed.pos", "ln_f.gamma", "ln_f.beta"))
    ids = torch.tensor([vocab.index(t) for t in tokens])
    x_ids, y_ids, t = ids[:-1], ids[1:], len(tokens) - 1
    causal = torch.nn.Transformer.generate_square_subsequent_mask(t, dtype=torch.float64)
    x = (F.embedding(x_ids, tok) + pos[:t])[None]
    for layer in layers:
        x = layer(x, src_mask=causal, is_causal=True)
    h = F.layer_norm(x[0], (d,), g, b, eps=1e-5)
    logits = h @ tok.T
    loss = F.cross_entropy(logits, y_ids)
    loss.backward()
    grads = {"embed.tok": tok.grad.numpy(), "embed.pos": pos.grad.numpy(), "ln_f.gamma": g.grad.numpy(),
             "ln_f.beta": b.grad.numpy()}
    for i, layer in enumerate(layers):
        grads.update(nn_grads(layer, i))
    assert_matches(ours, loss, logits, grads)
    assert math.isfinite(ours["loss"])
