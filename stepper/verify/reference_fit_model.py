"""The training reference's model: a whole padded batch through torch's own functions.

Written from the training semantics (docs/scenario-format.md, `data:`), not from the engine:
right-padded `[B, T]` ids, `<pad>` keys masked (and the future too in a decoder), pooling and the
loss skipping pads, LayerNorm as `F.layer_norm`, BatchNorm as `F.batch_norm` over the batch's
non-pad rows with running statistics, and dropout as the given keep masks (inputs, like weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stepper.scenario.types import Scenario
from stepper.verify.reference_transformer import ACTIVATIONS, pad_id, sinusoidal

IGNORE = -100  # F.cross_entropy's own default, for a vocab without `<pad>` (nothing to ignore then)
BN_MOMENTUM = 0.1  # torch.nn.BatchNorm1d's

Params = dict[str, torch.Tensor]
Running = dict[str, tuple[torch.Tensor, torch.Tensor]]  # "layers.0.ln1" / "ln_f" -> (running mean, running var)


@dataclass(frozen=True)
class TorchBatch:
    """One batch as tensors: transformers fill ids/pad (+ targets or labels), an mlp features (+ labels or target)."""

    ids: torch.Tensor | None = None  # [B, T] long, right-padded with <pad>
    pad: torch.Tensor | None = None  # [B, T] bool, True at <pad>
    targets: torch.Tensor | None = None  # next_token [B, T] long, the ignore index where no target counts
    labels: torch.Tensor | None = None  # classify [B] long
    features: torch.Tensor | None = None  # mlp [B, n_in]
    target: torch.Tensor | None = None  # mlp regress [B, n_out]
    source: torch.Tensor | None = None  # seq2seq [B, T_s] long, the encoder's ids, right-padded with <pad>
    source_pad: torch.Tensor | None = None  # seq2seq [B, T_s] bool

    @property
    def size(self) -> int:
        return int((self.ids if self.ids is not None else self.features).shape[0])


def ignore_index(sc: Scenario) -> int:
    pad = pad_id(sc)
    return IGNORE if pad is None else pad


def token_batch(sc: Scenario, sequences: list[list[int]], labels: list[int] | None) -> TorchBatch:
    """Right-pads each example's ids with `<pad>`; next_token splits each into input [:-1] and target [1:]."""
    pad = pad_id(sc)
    nxt = sc.task.kind == "next_token"
    inputs = [s[:-1] for s in sequences] if nxt else sequences
    width = max(len(s) for s in inputs)
    if pad is None and any(len(s) < width for s in inputs):
        raise ValueError("examples of different lengths need `<pad>` in the vocab")
    fill = pad if pad is not None else 0

    def rect(rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long)

    ids = rect(inputs)
    is_pad = ids == pad if pad is not None else torch.zeros_like(ids, dtype=torch.bool)
    if nxt:
        # a `<pad>` target is the ignore index itself (with no `<pad>`, all examples have one length)
        return TorchBatch(ids=ids, pad=is_pad, targets=rect([s[1:] for s in sequences]))
    return TorchBatch(ids=ids, pad=is_pad, labels=torch.tensor(labels, dtype=torch.long))


def keep_tensors(masks, p: float) -> list[dict[str, torch.Tensor]] | None:
    """Each layer's dropout masks (bool, True = kept) as the factors they multiply by: kept ×1/(1−p), dropped 0."""
    if masks is None or p == 0:
        return None
    scale = 1.0 / (1.0 - p)
    return [{name: torch.from_numpy(np.asarray(getattr(lm, name), dtype=np.float64)) * scale
             for name in ("attn", "attn_out", "ffn_out")} for lm in masks]


def start_running(sc: Scenario) -> Running:
    """BatchNorm's running statistics before any batch: mean 0, variance 1 per feature (torch's start)."""
    m = sc.model
    if m.kind == "mlp" or m.norm_type != "batch":
        return {}
    names = [f"layers.{i}.ln{n}" for i in range(m.n_layers) for n in (1, 2)] if m.norm != "none" else []
    names += ["ln_f"] if m.final_norm else []
    d = m.d_model
    return {n: (torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)) for n in names}


class TorchModel:
    """The scenario's model on batches: `loss(params, batch, ...) -> (loss, logits or prediction)`."""

    def __init__(self, sc: Scenario) -> None:
        self.sc, self.m = sc, sc.model

    def loss(self, p: Params, b: TorchBatch, *, training: bool, keep=None,
             running: Running | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Training mode: BatchNorm from the batch (updating `running` in place) and dropout by `keep`;
        eval mode: BatchNorm from `running`, no dropout."""
        if self.m.kind == "mlp":
            out = self._mlp(p, b.features)
        else:
            out = self._transformer(p, b, training, keep, running)
        task = self.sc.task
        if task.kind == "regress":
            return F.mse_loss(out, b.target), out
        if task.kind == "next_token":
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), b.targets.reshape(-1),
                                   ignore_index=ignore_index(self.sc)), out
        return F.cross_entropy(out, b.labels), out

    def _mlp(self, p: Params, x: torch.Tensor) -> torch.Tensor:
        n_layers = len(self.m.sizes) - 1
        for i in range(n_layers):
            x = F.linear(x, p[f"layers.{i}.W"].t(), p.get(f"layers.{i}.b"))
            if i < n_layers - 1 and self.m.activation != "none":
                x = ACTIVATIONS[self.m.activation](x)
        return x

    def _transformer(self, p: Params, b: TorchBatch, training: bool, keep, running) -> torch.Tensor:
        m = self.m
        t = b.ids.shape[1]
        x = F.embedding(b.ids, p["embed.tok"])  # [B, T, D]
        if m.positional == "sinusoidal":
            x = x + sinusoidal(t, m.d_model)
        elif m.positional == "learned":
            x = x + p["embed.pos"][:t]
        elif m.positional == "concat":  # [B, T, d_tok] beside the sinusoids [T, d_pos]
            x = torch.cat([x, sinusoidal(t, m.d_pos).expand(x.shape[0], t, m.d_pos)], dim=-1)
        blocked = b.pad[:, None, None, :]  # [B, 1, 1, T]: no query sees a pad key
        if m.kind == "decoder":
            blocked = blocked | torch.ones(t, t, dtype=torch.bool).triu(1)
        norm = Norms(p, m, b.pad, training, running)
        for i in range(m.n_layers):
            k = keep[i] if keep is not None else {}
            x = self._layer(p, f"layers.{i}", x, blocked, norm, k)
        if m.final_norm:
            x = norm(x, "ln_f")
        if self.sc.task.kind != "next_token":
            x = self._pool(x, b.pad)
        if m.tie_embeddings:
            return x @ p["embed.tok"].t()
        return F.linear(x, p["head.W"].t(), p.get("head.b"))

    def _pool(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        how = self.m.pooling
        if how == "first":
            return x[:, 0]
        real = (~pad).to(torch.float64)  # [B, T]
        if how == "mean":
            return (x * real[..., None]).sum(dim=1) / real.sum(dim=1, keepdim=True)
        positions = torch.arange(x.shape[1])
        last = torch.where(pad, -1, positions).max(dim=1).values  # the last non-pad row of each example
        return x[torch.arange(x.shape[0]), last]

    def _layer(self, p: Params, pre: str, x, blocked, norm, keep: dict) -> torch.Tensor:
        m = self.m
        x = self._sublayer(x, f"{pre}.ln1", norm, m.keeps_residual("attention"),
                           lambda a: self._attention(p, pre, a, blocked, keep))
        if not m.ffn:  # an attention-only block
            return x
        return self._sublayer(x, f"{pre}.ln2", norm, m.keeps_residual("ffn"), lambda a: self._ffn(p, pre, a, keep))

    def _sublayer(self, x, norm_at: str, norm, residual: bool, block) -> torch.Tensor:
        """pre: x + f(N(x)), post: N(x + f(x)), none: x + f(x); without the residual f's output is the stream."""
        how = self.m.norm
        out = block(norm(x, norm_at) if how == "pre" else x)
        out = x + out if residual else out
        return norm(out, norm_at) if how == "post" else out

    def _attention(self, p: Params, pre: str, x, blocked, keep: dict) -> torch.Tensor:
        m = self.m
        bsz, t, d = x.shape

        def heads(name: str) -> torch.Tensor:  # [B, T, D] -> [B, H, T, d_k]
            v = F.linear(x, p[f"{pre}.attn.W_{name}"].t(), p.get(f"{pre}.attn.b_{name}"))
            return v.reshape(bsz, t, m.n_heads, m.d_k).transpose(1, 2)

        q, k, v = heads("Q"), heads("K"), heads("V")
        if m.attention == "cosine":  # the cosines of torch's own unit rows, divided by the temperature
            s = F.normalize(q, dim=-1, eps=1e-12) @ F.normalize(k, dim=-1, eps=1e-12).transpose(-1, -2)
            s = s / m.attention_temperature
        else:
            s = q @ k.transpose(-1, -2)
        if m.attention_scale and m.attention == "dot":
            s = s / math.sqrt(m.d_k)
        a = torch.softmax(s.masked_fill(blocked, float("-inf")), dim=-1)
        if "attn" in keep:
            a = a * keep["attn"]
        z = (a @ v).transpose(1, 2).reshape(bsz, t, d)
        out = F.linear(z, p[f"{pre}.attn.W_O"].t(), p.get(f"{pre}.attn.b_O"))
        return out * keep["attn_out"] if "attn_out" in keep else out

    def _ffn(self, p: Params, pre: str, x, keep: dict) -> torch.Tensor:
        h = ACTIVATIONS[self.m.activation](F.linear(x, p[f"{pre}.ffn.W_1"].t(), p.get(f"{pre}.ffn.b_1")))
        out = F.linear(h, p[f"{pre}.ffn.W_2"].t(), p.get(f"{pre}.ffn.b_2"))
        return out * keep["ffn_out"] if "ffn_out" in keep else out


class Norms:
    """ln1 / ln2 / ln_f: LayerNorm, or BatchNorm over the non-pad rows of the whole batch."""

    def __init__(self, p: Params, m, pad: torch.Tensor, training: bool, running: Running | None) -> None:
        self.p, self.m, self.real, self.training, self.running = p, m, ~pad.reshape(-1), training, running

    def __call__(self, x: torch.Tensor, name: str) -> torch.Tensor:
        gamma, beta, eps = self.p[f"{name}.gamma"], self.p[f"{name}.beta"], self.m.norm_eps
        d = x.shape[-1]
        if self.m.norm_type != "batch":
            return F.layer_norm(x, (d,), gamma, beta, eps)
        mean, var = self.running[name]
        flat = x.reshape(-1, d)
        if not self.training:
            return F.batch_norm(flat, mean, var, gamma, beta, training=False, eps=eps).reshape(x.shape)
        rows = flat[self.real]
        normed = F.batch_norm(rows, mean, var, gamma, beta, training=True, momentum=BN_MOMENTUM, eps=eps)
        if bool(self.real.all()):
            return normed.reshape(x.shape)
        # pad rows take the same batch statistics (they never reach the loss; this keeps them the finite
        # numbers they are in the engine, so a pad value cannot turn a masked 0·v into NaN)
        var_b, mean_b = torch.var_mean(rows, dim=0, unbiased=False)
        everything = (flat - mean_b) / torch.sqrt(var_b + eps) * gamma + beta
        return everything.masked_scatter(self.real[:, None].expand_as(flat), normed).reshape(x.shape)
