"""Other people's models holding a scenario's weights: torch.nn.TransformerEncoder (with LayerNorm, or
BatchNorm1d over the non-pad rows), HF GPT-2, and an nn.Sequential mlp. Weights come in under the
scenario's names ([in, out]) and go back out under them, so a trained net compares name by name.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from cli_training import tensor


class PaddedBatchNorm(torch.nn.Module):
    """torch.nn.BatchNorm1d over the non-pad rows of [B, T, D] (training); every row with the running
    statistics in eval. The pad rows, which reach no loss, are passed through in training."""

    keep: torch.Tensor  # [B, T] bool, set by the encoder before each pass

    def __init__(self, d: int, eps: float):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(d, eps=eps, momentum=0.1, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        return x.masked_scatter(self.keep[..., None], self.bn(x[self.keep]))

    @property
    def eps(self) -> float:  # read by TransformerEncoderLayer's fast-path test
        return self.bn.eps

    @property
    def weight(self):
        return self.bn.weight

    @property
    def bias(self):
        return self.bn.bias


def sinusoidal(t: int, d: int) -> torch.Tensor:
    pe = torch.zeros(t, d, dtype=torch.float64)
    for pos in range(t):
        for i in range(0, d, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / d))
            if i + 1 < d:
                pe[pos, i + 1] = math.cos(pos / 10000 ** (i / d))
    return pe


class Encoder(torch.nn.Module):
    """Embedding (+ learned or sinusoidal positions), nn.TransformerEncoder, pooling, a linear head."""

    def __init__(self, p: dict, cfg: dict, pad: int):
        super().__init__()
        d, f = cfg["d_model"], cfg["d_ff"]
        self.pad, self.pooling, self.d = pad, cfg["pooling"], d
        self.tok = torch.nn.Parameter(tensor(p["embed.tok"]))
        self.pos = torch.nn.Parameter(tensor(p["embed.pos"])) if cfg["positional"] == "learned" else None
        layer = torch.nn.TransformerEncoderLayer(d, cfg["n_heads"], f, dropout=0.0, activation=cfg["activation"],
                                                 batch_first=True, norm_first=cfg["norm"] == "pre",
                                                 layer_norm_eps=cfg["norm_eps"], dtype=torch.float64)
        norm = self._norm(cfg) if cfg["final_norm"] else None
        self.enc = torch.nn.TransformerEncoder(layer, cfg["n_layers"], norm=norm, enable_nested_tensor=False)
        if cfg.get("norm_type") == "batch":
            for lay in self.enc.layers:
                lay.norm1, lay.norm2 = self._norm(cfg), self._norm(cfg)
        self.head = torch.nn.Linear(d, np.shape(p["head.W"])[1], dtype=torch.float64)
        with torch.no_grad():
            for name, value in self.named().items():
                value.copy_(tensor(p[name]))

    @staticmethod
    def _norm(cfg):
        if cfg.get("norm_type") == "batch":
            return PaddedBatchNorm(cfg["d_model"], cfg["norm_eps"])
        return torch.nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"], dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = x == self.pad
        for m in self.modules():
            if isinstance(m, PaddedBatchNorm):
                m.keep = ~pad
        h = torch.nn.functional.embedding(x, self.tok)
        h = h + (self.pos[: x.shape[1]] if self.pos is not None else sinusoidal(x.shape[1], self.d))
        h = self.enc(h, src_key_padding_mask=pad)
        if self.pooling == "first":
            pooled = h[:, 0]
        elif self.pooling == "last":
            pooled = h[torch.arange(len(x)), (~pad).sum(1) - 1]
        else:
            real = (~pad).to(h.dtype)[..., None]
            pooled = (h * real).sum(1) / real.sum(1)
        return self.head(pooled)

    def named(self) -> dict:
        """Views of the parameters under the scenario's names, [in, out] (writable under no_grad)."""
        d = self.d
        out = {"embed.tok": self.tok, **({"embed.pos": self.pos} if self.pos is not None else {})}
        for i, lay in enumerate(self.enc.layers):
            a, w, b = f"layers.{i}.attn", lay.self_attn.in_proj_weight, lay.self_attn.in_proj_bias
            for k, m in enumerate("QKV"):  # in_proj is [3D, D], out × in
                out[f"{a}.W_{m}"], out[f"{a}.b_{m}"] = w[k * d:(k + 1) * d].T, b[k * d:(k + 1) * d]
            out[f"{a}.W_O"], out[f"{a}.b_O"] = lay.self_attn.out_proj.weight.T, lay.self_attn.out_proj.bias
            out[f"layers.{i}.ffn.W_1"], out[f"layers.{i}.ffn.b_1"] = lay.linear1.weight.T, lay.linear1.bias
            out[f"layers.{i}.ffn.W_2"], out[f"layers.{i}.ffn.b_2"] = lay.linear2.weight.T, lay.linear2.bias
            for n, ln in ((1, lay.norm1), (2, lay.norm2)):
                out[f"layers.{i}.ln{n}.gamma"], out[f"layers.{i}.ln{n}.beta"] = ln.weight, ln.bias
        if self.enc.norm is not None:
            out["ln_f.gamma"], out["ln_f.beta"] = self.enc.norm.weight, self.enc.norm.bias
        out["head.W"], out["head.b"] = self.head.weight.T, self.head.bias
        return out

    def b_K_grad(self, zero: bool = False) -> float:
        """The largest entry of any b_K's gradient (round-off: its exact value is 0); `zero` sets it to 0."""
        d = self.d
        return _key_bias_grads([lay.self_attn.in_proj_bias.grad for lay in self.enc.layers], d, zero)


def _key_bias_grads(qkv_bias_grads: list, d: int, zero: bool) -> float:
    largest = max(float(g[d:2 * d].abs().max()) for g in qkv_bias_grads)
    if zero:
        for g in qkv_bias_grads:
            g[d:2 * d] = 0.0
    return largest


def gpt2(p: dict, cfg: dict, vocab_size: int):
    """HF GPT2LMHeadModel with the weights of `p` and a `named()` reading them back (Conv1D is [in, out])."""
    import transformers

    n_layers, d = cfg["n_layers"], cfg["d_model"]
    conf = transformers.GPT2Config(vocab_size=vocab_size, n_positions=cfg["max_len"], n_embd=d,
                                   n_layer=n_layers, n_head=cfg["n_heads"], n_inner=cfg["d_ff"],
                                   activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
                                   attn_pdrop=0.0, layer_norm_epsilon=cfg["norm_eps"], tie_word_embeddings=True)
    conf._attn_implementation = "eager"
    net = transformers.GPT2LMHeadModel(conf).double()
    where = {"embed.tok": "transformer.wte.weight", "embed.pos": "transformer.wpe.weight",
             "ln_f.gamma": "transformer.ln_f.weight", "ln_f.beta": "transformer.ln_f.bias"}
    for i in range(n_layers):
        h, o = f"transformer.h.{i}", f"layers.{i}"
        where |= {f"{o}.attn.W_O": f"{h}.attn.c_proj.weight", f"{o}.attn.b_O": f"{h}.attn.c_proj.bias",
                  f"{o}.ffn.W_1": f"{h}.mlp.c_fc.weight", f"{o}.ffn.b_1": f"{h}.mlp.c_fc.bias",
                  f"{o}.ffn.W_2": f"{h}.mlp.c_proj.weight", f"{o}.ffn.b_2": f"{h}.mlp.c_proj.bias",
                  f"{o}.ln1.gamma": f"{h}.ln_1.weight", f"{o}.ln1.beta": f"{h}.ln_1.bias",
                  f"{o}.ln2.gamma": f"{h}.ln_2.weight", f"{o}.ln2.beta": f"{h}.ln_2.bias"}
    params = dict(net.named_parameters())

    def named() -> dict:
        out = {name: params[theirs] for name, theirs in where.items()}
        for i in range(n_layers):
            w, b = params[f"transformer.h.{i}.attn.c_attn.weight"], params[f"transformer.h.{i}.attn.c_attn.bias"]
            for k, m in enumerate("QKV"):  # c_attn holds W_Q | W_K | W_V side by side
                out[f"layers.{i}.attn.W_{m}"] = w[:, k * d:(k + 1) * d]
                out[f"layers.{i}.attn.b_{m}"] = b[k * d:(k + 1) * d]
        return out

    with torch.no_grad():
        for name, value in named().items():
            value.copy_(tensor(p[name]))

    def b_K_grad(zero: bool = False) -> float:
        return _key_bias_grads([params[f"transformer.h.{i}.attn.c_attn.bias"].grad for i in range(n_layers)],
                               d, zero)

    return net, named, b_K_grad


def mlp(p: dict, sizes: list[int], activation: str):
    """nn.Sequential of Linear layers with the activation between them; named() as `layers.{i}.W/b`."""
    act = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh}[activation]
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=torch.float64))
        if i < len(sizes) - 2:
            mods.append(act())
    net = torch.nn.Sequential(*mods)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]

    def named() -> dict:
        out = {}
        for i, lin in enumerate(linears):
            out[f"layers.{i}.W"], out[f"layers.{i}.b"] = lin.weight.T, lin.bias
        return out

    with torch.no_grad():
        for name, value in named().items():
            value.copy_(tensor(p[name]))
    return net, named
