"""The training reference's encoder–decoder: a whole padded batch through torch's own functions.

Written from the semantics of `kind: seq2seq` on `data:` (docs/scenario-format.md), not from the
engine: sources right-padded to the batch's longest source, the decoder reading each target[:-1]
right-padded to the longest; `<pad>` source keys masked in the encoder's self-attention and in every
cross-attention (queries from the decoder, keys and values from the memory), `<pad>` target keys and
the future masked in the decoder's self-attention; the loss F.cross_entropy(ignore_index=<pad>) over
every predicted target[1:] of the batch. Autograd adds the memory's paths through the cross-attentions
and the table's through both lookups (and a tied head) by itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from stepper.scenario.types import Scenario
from stepper.verify.reference_fit_model import Norms, Params, Running, TorchBatch, TorchModel, ignore_index
from stepper.verify.reference_transformer import pad_id, sinusoidal


def seq2seq_batch(sc: Scenario, sources: list[list[int]], targets: list[list[int]]) -> TorchBatch:
    """Sources and targets (ids, `<bos>` first) right-padded with `<pad>`: `source` [B, T_s]; `ids` the
    decoder's inputs target[:-1] [B, T_t]; `targets` the tokens it predicts, target[1:] [B, T_t]."""
    pad = pad_id(sc)
    fill = pad if pad is not None else 0  # without `<pad>` every example has the same lengths

    def rect(rows: list[list[int]]) -> torch.Tensor:
        width = max(len(r) for r in rows)
        if pad is None and any(len(r) < width for r in rows):
            raise ValueError("examples of different lengths need `<pad>` in the vocab")
        return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long)

    def is_pad(ids: torch.Tensor) -> torch.Tensor:
        return ids == pad if pad is not None else torch.zeros_like(ids, dtype=torch.bool)

    source, ids = rect(sources), rect([t[:-1] for t in targets])
    return TorchBatch(ids=ids, pad=is_pad(ids), targets=rect([t[1:] for t in targets]), source=source,
                      source_pad=is_pad(source))


def start_running_seq2seq(sc: Scenario) -> Running:
    """BatchNorm's running statistics of every norm of both stacks: mean 0, variance 1 (torch's start)."""
    m = sc.model
    if m.norm_type != "batch":
        return {}
    names = [f"encoder.layers.{i}.ln{n}" for i in range(m.n_layers) for n in (1, 2)] if m.norm != "none" else []
    names += [f"decoder.layers.{i}.ln{n}" for i in range(m.n_dec_layers) for n in (1, 2, 3)] if m.norm != "none" \
        else []
    names += ["encoder.ln_f", "decoder.ln_f"] if m.final_norm else []
    return {n: (torch.zeros(m.d_model, dtype=torch.float64), torch.ones(m.d_model, dtype=torch.float64))
            for n in names}


def keep_seq2seq(masks, p: float) -> tuple[list[dict], list[dict]] | None:
    """A dropout.Seq2SeqMasks as the factors each mask multiplies by (kept ×1/(1−p), dropped 0), per layer
    of each stack, by the masks' own field names."""
    if masks is None or p == 0:
        return None
    scale = 1.0 / (1.0 - p)

    def factors(layer) -> dict:
        return {name: torch.from_numpy(getattr(layer, name).astype("float64")) * scale for name in layer._fields}

    return [factors(lm) for lm in masks.encoder], [factors(lm) for lm in masks.decoder]


class TorchSeq2Seq(TorchModel):
    """`loss(params, batch, ...) -> (loss, logits [B, T_t, V])`, as TorchModel's for the other kinds."""

    def loss(self, p: Params, b: TorchBatch, *, training: bool, keep=None,
             running: Running | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.m
        enc_keep, dec_keep = keep if keep is not None else ([{}] * m.n_layers, [{}] * m.n_dec_layers)
        src_blocked = b.source_pad[:, None, None, :]  # [B, 1, 1, T_s]: True where a key may NOT be read
        t = b.ids.shape[1]
        self_blocked = b.pad[:, None, None, :] | torch.ones(t, t, dtype=torch.bool).triu(1)  # [B, 1, T_t, T_t]

        norm = Norms(p, m, b.source_pad, training, running)
        x = self._embed(p, b.source)
        for i in range(m.n_layers):
            at, k = f"encoder.layers.{i}", enc_keep[i]
            x = self._sublayer(x, norm, f"{at}.ln1", k.get("attn_out"),
                               lambda a, at=at, k=k: self._mha(p, f"{at}.attn", a, a, src_blocked, k.get("attn")))
            x = self._sublayer(x, norm, f"{at}.ln2", k.get("ffn_out"), lambda a, at=at: self._ffn(p, at, a, {}))
        memory = norm(x, "encoder.ln_f") if m.final_norm else x

        norm = Norms(p, m, b.pad, training, running)  # the decoder's statistics: over the targets' rows
        y = self._embed(p, b.ids)
        for i in range(m.n_dec_layers):
            at, k = f"decoder.layers.{i}", dec_keep[i]
            y = self._sublayer(y, norm, f"{at}.ln1", k.get("self_out"), lambda a, at=at, k=k: self._mha(
                p, f"{at}.self_attn", a, a, self_blocked, k.get("self_attn")))
            y = self._sublayer(y, norm, f"{at}.ln2", k.get("cross_out"), lambda a, at=at, k=k: self._mha(
                p, f"{at}.cross_attn", a, memory, src_blocked, k.get("cross_attn")))
            y = self._sublayer(y, norm, f"{at}.ln3", k.get("ffn_out"), lambda a, at=at: self._ffn(p, at, a, {}))
        if m.final_norm:
            y = norm(y, "decoder.ln_f")
        logits = y @ p["embed.tok"].t() if m.tie_embeddings else F.linear(y, p["head.W"].t(), p.get("head.b"))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b.targets.reshape(-1),
                               ignore_index=ignore_index(self.sc))
        return loss, logits

    def _embed(self, p: Params, ids: torch.Tensor) -> torch.Tensor:
        m, t = self.m, ids.shape[1]
        x = F.embedding(ids, p["embed.tok"])  # each sequence's positions from 0
        if m.positional == "sinusoidal":
            return x + sinusoidal(t, m.d_model)
        return x + p["embed.pos"][:t] if m.positional == "learned" else x

    def _sublayer(self, x: torch.Tensor, norm: Norms, name: str, keep_out, block) -> torch.Tensor:
        """post: N(x + f(x)); pre: x + f(N(x)); none: x + f(x); f's output times its dropout factors."""
        how = self.m.norm
        out = block(norm(x, name) if how == "pre" else x)
        if keep_out is not None:
            out = out * keep_out
        return norm(x + out, name) if how == "post" else x + out

    def _mha(self, p: Params, at: str, x: torch.Tensor, kv: torch.Tensor, blocked: torch.Tensor,
             keep_weights) -> torch.Tensor:
        """Multi-head attention: queries from `x` [B, T_q, D], keys and values from `kv` [B, T_k, D]."""
        m = self.m

        def heads(src: torch.Tensor, name: str) -> torch.Tensor:  # [B, T, D] -> [B, H, T, d_k]
            v = F.linear(src, p[f"{at}.W_{name}"].t(), p.get(f"{at}.b_{name}"))
            return v.reshape(src.shape[0], src.shape[1], m.n_heads, m.d_k).transpose(1, 2)

        q, k, v = heads(x, "Q"), heads(kv, "K"), heads(kv, "V")
        s = q @ k.transpose(-1, -2)
        if m.attention_scale:
            s = s / math.sqrt(m.d_k)
        a = torch.softmax(s.masked_fill(blocked, float("-inf")), dim=-1)
        if keep_weights is not None:
            a = a * keep_weights
        z = (a @ v).transpose(1, 2).reshape(x.shape)
        return F.linear(z, p[f"{at}.W_O"].t(), p.get(f"{at}.b_O"))
