"""Seq2seq scenarios built directly (no YAML): seeded weights under exactly contract §7's names and shapes;
and torch.nn.Transformer holding the same weights (`nn_transformer`, `model_params`, `copy_into`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from stepper.scenario.types import ModelConfig, Scenario, TaskConfig
from stepper.verify.reference_transformer import sinusoidal

VOCAB = ["<pad>", "<bos>", "<eos>", "I", "love", "pizza", "me", "encanta", "la"]
SOURCE = ["I", "love", "pizza"]
TARGET = ["<bos>", "me", "encanta", "la", "pizza", "<eos>"]


def _attention(p: dict, at: str, d: int, bias: bool, rng) -> None:
    for m in "QKVO":
        p[f"{at}.W_{m}"] = rng.normal(size=(d, d)) * 0.5
        if bias:
            p[f"{at}.b_{m}"] = rng.normal(size=d) * 0.1


def _norm(p: dict, at: str, d: int, rng) -> None:
    p[f"{at}.gamma"], p[f"{at}.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1


def _ffn(p: dict, at: str, d: int, f: int, bias: bool, rng) -> None:
    p[f"{at}.W_1"], p[f"{at}.W_2"] = rng.normal(size=(d, f)) * 0.5, rng.normal(size=(f, d)) * 0.5
    if bias:
        p[f"{at}.b_1"], p[f"{at}.b_2"] = rng.normal(size=f) * 0.1, rng.normal(size=d) * 0.1


def seq2seq_params(m: ModelConfig, vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every parameter of §7 for this model, and no other, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    d, f, normed = m.d_model, m.d_ff, m.norm != "none"
    p = {"embed.tok": rng.normal(size=(vocab_size, d))}
    if m.positional == "learned":
        p["embed.pos"] = rng.normal(size=(m.max_len, d))
    for i in range(m.n_layers):
        at = f"encoder.layers.{i}"
        _attention(p, f"{at}.attn", d, m.bias, rng)
        for n in (1, 2) if normed else ():
            _norm(p, f"{at}.ln{n}", d, rng)
        _ffn(p, f"{at}.ffn", d, f, m.bias, rng)
    if m.final_norm:
        _norm(p, "encoder.ln_f", d, rng)
    for i in range(m.n_dec_layers):
        at = f"decoder.layers.{i}"
        _attention(p, f"{at}.self_attn", d, m.bias, rng)
        _attention(p, f"{at}.cross_attn", d, m.bias, rng)
        for n in (1, 2, 3) if normed else ():
            _norm(p, f"{at}.ln{n}", d, rng)
        _ffn(p, f"{at}.ffn", d, f, m.bias, rng)
    if m.final_norm:
        _norm(p, "decoder.ln_f", d, rng)
    if not m.tie_embeddings:
        p["head.W"] = rng.normal(size=(d, vocab_size))
        if m.head_bias:
            p["head.b"] = rng.normal(size=vocab_size) * 0.1
    return p


def seq2seq_scenario(source=SOURCE, target=TARGET, vocab=VOCAB, seed: int = 0, **model) -> Scenario:
    """A seq2seq Scenario; `model` overrides ModelConfig's fields (2 + 2 layers, 2 heads by default)."""
    fields = {"kind": "seq2seq", "d_model": 4, "n_heads": 2, "n_layers": 2, "n_dec_layers": 2, "d_ff": 6,
              "max_len": 8} | model
    m = ModelConfig(**fields)
    return Scenario(name="s2s", model=m, task=TaskConfig(kind="seq2seq"), vocab=list(vocab), tokens=list(target),
                    source_tokens=list(source), params=seq2seq_params(m, len(vocab), seed))


# -- our names for torch.nn's transformer layers' parameters -------------------------------------------
def attention_params(prefix: str, mha: torch.nn.MultiheadAttention):
    """(our name, torch parameter, its rows that hold it, transposed?) for one attention block:
    nn.MultiheadAttention stacks W_Q, W_K, W_V out×in in one [3D, D] `in_proj_weight`; ours are [in, out]."""
    d = mha.embed_dim
    for j, m in enumerate("QKV"):
        yield f"{prefix}.W_{m}", mha.in_proj_weight, slice(j * d, (j + 1) * d), True
        yield f"{prefix}.b_{m}", mha.in_proj_bias, slice(j * d, (j + 1) * d), False
    yield f"{prefix}.W_O", mha.out_proj.weight, slice(None), True
    yield f"{prefix}.b_O", mha.out_proj.bias, slice(None), False


def layer_params(prefix: str, layer, attentions: dict[str, str], norms: int):
    """The same for an nn.TransformerEncoderLayer / DecoderLayer: `attentions` maps our block names to its."""
    for ours, theirs in attentions.items():
        yield from attention_params(f"{prefix}.{ours}", getattr(layer, theirs))
    for n, lin in (("1", layer.linear1), ("2", layer.linear2)):
        yield f"{prefix}.ffn.W_{n}", lin.weight, slice(None), True
        yield f"{prefix}.ffn.b_{n}", lin.bias, slice(None), False
    for n in range(1, norms + 1):
        norm = getattr(layer, f"norm{n}")
        yield f"{prefix}.ln{n}.gamma", norm.weight, slice(None), False
        yield f"{prefix}.ln{n}.beta", norm.bias, slice(None), False


def copy_into(pairs, params: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        for name, param, rows, transposed in pairs:
            value = torch.from_numpy(params[name])
            param[rows].copy_(value.T if transposed else value)


def grads_of(pairs) -> dict[str, np.ndarray]:
    out = {}
    for name, param, rows, transposed in pairs:
        g = param.grad[rows]
        out[name] = (g.T if transposed else g).numpy()
    return out


def model_params(model: torch.nn.Transformer):
    """(our name, torch parameter, its rows, transposed?) for every layer and final norm of `model`."""
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
    """nn.Transformer of the scenario's shape (dropout 0, batch first, float64), weights not yet copied in;
    without final norms, the same layers as custom_encoder / custom_decoder with no norm at the end."""
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


def torch_greedy(sc, n: int) -> tuple[list[str], list[np.ndarray]]:
    """nn.Transformer's encoder once, then its decoder rerun over the whole target for each token; the
    most likely token that is not <pad> each time. Returns (tokens, each step's logits)."""
    m, model = sc.model, nn_transformer(sc)
    copy_into(list(model_params(model)), sc.params)
    p = {k: torch.from_numpy(v) for k, v in sc.params.items()}
    index = {t: i for i, t in enumerate(sc.vocab)}
    pad = index["<pad>"]

    def embed(ids: torch.Tensor) -> torch.Tensor:
        e = F.embedding(ids, p["embed.tok"])
        if m.positional == "sinusoidal":
            return e + sinusoidal(len(ids), m.d_model)
        return e + p["embed.pos"][:len(ids)] if m.positional == "learned" else e

    src = torch.tensor([index[t] for t in sc.source_tokens])
    ids, logits = [index["<bos>"]], []
    with torch.no_grad():
        memory = model.encoder(embed(src)[None], src_key_padding_mask=(src == pad)[None])
        for _ in range(n):
            tgt, t = torch.tensor(ids), len(ids)
            out = model.decoder(embed(tgt)[None], memory, tgt_mask=torch.ones(t, t, dtype=torch.bool).triu(1),
                                memory_key_padding_mask=(src == pad)[None])[0, -1]
            z = out @ p["embed.tok"].T if m.tie_embeddings else out @ p["head.W"] + p.get("head.b", 0)
            logits.append(z.numpy())
            ids.append(int(z.masked_fill(torch.arange(len(z)) == pad, float("-inf")).argmax()))
    return [sc.vocab[i] for i in ids[1:]], logits
