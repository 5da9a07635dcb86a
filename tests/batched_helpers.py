"""Scenarios and batches for the batched-model tests, and an independent torch model of a batch.

The torch model is written from the definitions (torch's own embedding, matmul, softmax, layer_norm,
batch_norm, gelu, cross_entropy), not from the engine: the two meet only at the parameter names.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from stepper.engine.batches import Batch
from stepper.scenario.load import load_scenario
from stepper.scenario.types import PAD, Scenario

VOCAB = [PAD, "a", "b", "c", "d", "e", "f", "g"]


def scenario(tmp_path, name: str = "s", *, norm_type: str = "layer", dropout: float = 0.0, **model) -> Scenario:
    """An encoder classifier (or, with kind: decoder, a next-token model) with weights from a seed."""
    config = {"kind": "encoder", "d_model": 8, "n_heads": 2, "n_layers": 2, "d_ff": 12, "activation": "gelu",
              "norm": "post", "positional": "sinusoidal", "max_len": 8} | model
    decoder = config["kind"] == "decoder"
    task = "kind: next_token" if decoder else "kind: classify\n  classes: [x, y, z]\n  label: y"
    lines = "\n".join(f"  {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in config.items())
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nmodel:\n{lines}\ninput:\n  vocab: {VOCAB}\n  tokens: [a, c, b, d]\n"
                    f"task:\n  {task}\nweights:\n  seed: 3\n  init: {{std: 0.5}}\n")
    sc = load_scenario(path)
    return dataclasses.replace(sc, model=dataclasses.replace(sc.model, norm_type=norm_type, dropout=dropout))


def batch(sc: Scenario, examples: list[list[str]], labels: list[int] | None = None) -> Batch:
    """Right-padded ids; next_token splits each example into inputs [:-1] and targets [1:]."""
    next_token = sc.task.kind == "next_token"
    seqs = [[sc.vocab.index(tok) for tok in ex] for ex in examples]
    inputs = [s[:-1] for s in seqs] if next_token else seqs
    t = max(len(s) for s in inputs)
    pad_id = sc.vocab.index(PAD)
    ids = np.array([s + [pad_id] * (t - len(s)) for s in inputs])
    pad = ids == pad_id
    if next_token:
        targets = np.array([s[1:] + [-1] * (t - len(s) + 1) for s in seqs])
        return Batch(ids=ids, pad=pad, targets=targets)
    return Batch(ids=ids, pad=pad, labels=np.array(labels))


def torch_batch_loss(sc: Scenario, params: dict[str, torch.Tensor], b: Batch, masks=None, running=None,
                     train: bool = True):
    """The batch loss in torch; `running` {prefix: (mean, var) tensors} is updated in place by batch_norm."""
    m = sc.model
    ids = torch.tensor(b.ids)
    pad = torch.tensor(b.pad)
    n_b, t = ids.shape
    dk = m.d_model // m.n_heads
    x = F.embedding(ids, params["embed.tok"])
    if m.positional in ("sinusoidal", "concat"):
        width = m.d_pos if m.positional == "concat" else m.d_model
        pos = torch.arange(t, dtype=torch.float64)[:, None]
        i = torch.arange(width)
        angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), (2 * (i // 2)).double() / width)
        waves = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))  # [T, width]
        x = torch.cat([x, waves.expand(n_b, t, width)], dim=-1) if m.positional == "concat" else x + waves
    elif m.positional == "learned":
        x = x + params["embed.pos"][:t]
    blocked = pad[:, None, None, :].expand(n_b, 1, t, t)
    if m.kind == "decoder":
        blocked = blocked | torch.ones(t, t, dtype=torch.bool).triu(1)
    kept = ~pad.reshape(-1)

    def norm(v, at):
        g, bt = params[f"{at}.gamma"], params[f"{at}.beta"]
        if m.norm_type == "layer":
            return F.layer_norm(v, (m.d_model,), g, bt, m.norm_eps)
        flat = v.reshape(-1, m.d_model)
        rm, rv = running[at]
        out = F.batch_norm(flat[kept], rm, rv, g, bt, training=train, momentum=0.1, eps=m.norm_eps)
        if not train:
            return F.batch_norm(flat, rm, rv, g, bt, training=False, eps=m.norm_eps).reshape(v.shape)
        full = torch.zeros_like(flat).index_put((kept.nonzero()[:, 0],), out)  # pad rows: never read
        return full.reshape(v.shape)

    def lin(v, at, which):
        y = v @ params[f"{at}.W_{which}"]
        return y + params[f"{at}.b_{which}"] if f"{at}.b_{which}" in params else y

    def drop(v, keep):
        return v if keep is None else v * torch.tensor(keep) / (1 - m.dropout)

    act = {"relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda v: F.gelu(v, approximate="tanh"), "tanh": torch.tanh,
           "sigmoid": torch.sigmoid, "square": torch.square, "exp": torch.exp, "none": lambda v: v}[m.activation]
    for i in range(m.n_layers):
        at = f"layers.{i}"
        lm = masks[i] if masks else None

        def attn(v, at=at, lm=lm):
            q, k, vv = (lin(v, f"{at}.attn", w).reshape(n_b, t, m.n_heads, dk).transpose(1, 2) for w in "QKV")
            if m.attention == "cosine":  # cosines of unit rows, divided by the temperature
                s = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-1, -2) / m.attention_temperature
            else:
                s = q @ k.transpose(-1, -2)
            if m.attention_scale and m.attention == "dot":
                s = s / math.sqrt(dk)
            a = torch.softmax(s.masked_fill(blocked, float("-inf")), dim=-1)
            z = drop(a, lm and lm.attn) @ vv
            return drop(lin(z.transpose(1, 2).reshape(n_b, t, m.d_model), f"{at}.attn", "O"), lm and lm.attn_out)

        def ffn(v, at=at, lm=lm):
            return drop(lin(act(lin(v, f"{at}.ffn", "1")), f"{at}.ffn", "2"), lm and lm.ffn_out)

        for n, f in ((1, attn), (2, ffn)):
            if m.norm == "pre":
                x = x + f(norm(x, f"{at}.ln{n}"))
            elif m.norm == "post":
                x = norm(x + f(x), f"{at}.ln{n}")
            else:
                x = x + f(x)
    if m.final_norm:
        x = norm(x, "ln_f")
    if sc.task.kind != "next_token":
        keep = (~pad).to(torch.float64)
        if m.pooling == "mean":
            x = (x * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True)
        elif m.pooling == "first":
            x = x[:, 0]
        else:
            x = x[torch.arange(n_b), (~pad).sum(1) - 1]
    logits = x @ params["embed.tok"].T if m.tie_embeddings else x @ params["head.W"]
    if "head.b" in params and not m.tie_embeddings:
        logits = logits + params["head.b"]
    if sc.task.kind == "next_token":
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.tensor(b.targets).reshape(-1),
                               ignore_index=-1), logits
    return F.cross_entropy(logits, torch.tensor(b.labels)), logits


def torch_loss_and_grads(sc: Scenario, b: Batch, masks=None, running=None):
    params = {k: torch.tensor(v, requires_grad=True) for k, v in sc.params.items()}
    loss, _ = torch_batch_loss(sc, params, b, masks, running)
    loss.backward()
    return loss.item(), {k: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape)) for k, p in params.items()}
