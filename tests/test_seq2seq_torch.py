"""The encoder–decoder against torch.nn.Transformer itself, end to end: our weights copied into
nn.Transformer (nn.MultiheadAttention keeps Q, K, V stacked in one [3D, D] out×in `in_proj_weight`;
ours are [in, out]), the same embeddings fed in, and the loss, the logits and every parameter
gradient compared to 1e-9. nn.Transformer ends each stack with its own LayerNorm (`final_norm: true`);
without them, the same layers go in as custom_encoder / custom_decoder with no final norm.

Also: `stepper.verify.entry.checked` (every step against the independent reference) passes on a
sweep of the model's options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from seq2seq_helpers import VOCAB, copy_into, grads_of, layer_params, seq2seq_scenario

from stepper.engine import build_trace
from stepper.verify.entry import checked
from stepper.verify.reference_transformer import sinusoidal

TOL = 1e-9
SOURCE_PADDED = ["I", "love", "pizza", "<pad>"]
TARGET_PADDED = ["<bos>", "me", "encanta", "la", "pizza", "<eos>", "<pad>"]


def model_params(model: torch.nn.Transformer):
    enc, dec = model.encoder, model.decoder
    for i, layer in enumerate(enc.layers):
        yield from layer_params(f"encoder.layers.{i}", layer, {"attn": "self_attn"}, 2)
    for i, layer in enumerate(dec.layers):
        yield from layer_params(f"decoder.layers.{i}", layer, {"self_attn": "self_attn", "cross_attn": "multihead_attn"},
                                3)
    for name, norm in (("encoder.ln_f", enc.norm), ("decoder.ln_f", dec.norm)):
        if norm is not None:
            yield f"{name}.gamma", norm.weight, slice(None), False
            yield f"{name}.beta", norm.bias, slice(None), False


def nn_transformer(sc) -> torch.nn.Transformer:
    m = sc.model
    act = {"relu": "relu", "gelu": "gelu", "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[m.activation]
    kw = {"dropout": 0.0, "activation": act, "batch_first": True, "norm_first": m.norm == "pre",
          "dtype": torch.float64}
    if m.final_norm:
        return torch.nn.Transformer(m.d_model, m.n_heads, m.n_layers, m.n_dec_layers, m.d_ff, **kw)
    enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(m.d_model, m.n_heads, m.d_ff, **kw),
                                      m.n_layers, norm=None, enable_nested_tensor=False)
    dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(m.d_model, m.n_heads, m.d_ff, **kw),
                                      m.n_dec_layers, norm=None)
    return torch.nn.Transformer(m.d_model, m.n_heads, custom_encoder=enc, custom_decoder=dec, **kw)


def torch_run(sc):
    """nn.Transformer with the scenario's weights: (loss, logits, every parameter's gradient by our name)."""
    m, model = sc.model, nn_transformer(sc)
    pairs = list(model_params(model))
    copy_into(pairs, sc.params)
    leaves = {k: torch.from_numpy(sc.params[k]).requires_grad_(True) for k in ("embed.tok", "embed.pos", "head.W",
                                                                             "head.b") if k in sc.params}
    index = {t: i for i, t in enumerate(sc.vocab)}
    src = torch.tensor([index[t] for t in sc.source_tokens])
    ids = torch.tensor(sc.token_ids)
    tgt, targets, pad = ids[:-1], ids[1:], index["<pad>"]

    def embed(x):
        e = F.embedding(x, leaves["embed.tok"])
        if m.positional == "sinusoidal":
            return e + sinusoidal(len(x), m.d_model)
        return e + leaves["embed.pos"][:len(x)] if m.positional == "learned" else e

    t = len(tgt)
    out = model(embed(src)[None], embed(tgt)[None], tgt_mask=torch.ones(t, t, dtype=torch.bool).triu(1),
                src_key_padding_mask=(src == pad)[None], tgt_key_padding_mask=(tgt == pad)[None],
                memory_key_padding_mask=(src == pad)[None])[0]
    logits = out @ leaves["embed.tok"].T if m.tie_embeddings else out @ leaves["head.W"] + leaves.get("head.b", 0)
    loss = F.cross_entropy(logits, targets, ignore_index=pad)
    loss.backward()
    return loss.item(), logits.detach().numpy(), {k: v.grad.numpy() for k, v in leaves.items()} | grads_of(pairs)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # norm_first: torch's fast path is off
@pytest.mark.parametrize("options", [
    {"norm": "post", "final_norm": True, "activation": "relu"},
    {"norm": "pre", "final_norm": True, "activation": "gelu"},
    {"norm": "post", "final_norm": False, "positional": "learned", "tie_embeddings": True},
    {"norm": "pre", "final_norm": False, "activation": "gelu_tanh", "n_layers": 3, "n_dec_layers": 1},
], ids=["post-final", "pre-final", "post-tied-learned", "pre-3+1"])
def test_matches_nn_transformer(options):
    sc = seq2seq_scenario(SOURCE_PADDED, TARGET_PADDED, d_model=8, n_heads=2, d_ff=12, seed=3, **options)
    trace = build_trace(sc)
    loss, logits, grads = torch_run(sc)
    assert abs(trace.loss - loss) <= TOL
    assert trace.logits.shape == (len(TARGET_PADDED) - 1, len(VOCAB))
    assert np.max(np.abs(trace.logits - logits)) <= TOL
    assert set(trace.grads) == set(grads) == set(sc.params)
    for name, g in grads.items():
        assert np.max(np.abs(trace.grads[name] - g)) <= TOL, name


@pytest.mark.parametrize("options", [
    {},
    {"norm": "pre", "final_norm": True},
    {"norm": "none", "bias": False, "head_bias": False},
    {"tie_embeddings": True, "positional": "learned", "final_norm": True},
    {"positional": "none", "n_heads": 1, "n_dec_layers": 1, "activation": "relu"},
    {"attention_scale": False, "n_layers": 1, "n_dec_layers": 3},
], ids=["post", "pre-final", "none-nobias", "tied-learned", "nopos-1head", "unscaled"])
@pytest.mark.parametrize("padded", [False, True], ids=["plain", "padded"])
def test_every_step_checks_against_the_reference(options, padded):
    sc = seq2seq_scenario(*((SOURCE_PADDED, TARGET_PADDED) if padded else ()), **options)
    trace, verdicts = checked(sc)
    failing = {k: (c.max_abs_err, c.worst) for k, c in verdicts.items() if not c.ok or not c.compared}
    assert failing == {} and verdicts.totals.ok
    ids = [s.id for s in trace.steps]
    assert "bwd.enc.memory.merge" in ids and "bwd.embed.merge" in ids
    assert ("bwd.pos.merge" in ids) == (options.get("positional") == "learned")
