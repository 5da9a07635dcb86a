"""Generation in the reference: no cache at all, the whole sequence recomputed for every token.

If the engine's cached decode gives the same logits, keys, values and attention rows as a
from-scratch torch forward over the sequence so far, the cache is right. Filtering and
sampling use torch's own topk / sort / cumsum / searchsorted, and the same seeded draws.

A seq2seq is recomputed the same way: for every token, the whole nn.Transformer-style pass over the
source (encoder, memory) and the target so far, from `<bos>` (reference_seq2seq.py), nothing kept.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from stepper.scenario.types import PAD, TaskConfig
from stepper.trace_keys import decoder_layer
from stepper.verify.graph import Graph
from stepper.verify.reference_seq2seq import build_decoder, build_encoder
from stepper.verify.reference_transformer import build_transformer


def _full_forward(scenario, seq: list[str], running: dict) -> tuple[Graph, str | None]:
    """The graph of a pass that reads all of `seq` (and, for a seq2seq, the source: the memory's key), in
    evaluation mode: BatchNorm normalises with `running`, the running statistics."""
    # next_token (and seq2seq's decoder) reads all tokens but the last: append a dummy so the whole `seq` is read
    g, memory = Graph(norm_statistics=running), None
    for name, value in scenario.params.items():
        g.param(name, value)
    # with autograd on: the graph keeps gradients, though none are asked for
    if scenario.model.kind == "seq2seq":
        view = dataclasses.replace(scenario, tokens=seq + seq[-1:])
        memory = build_encoder(g, view)
        build_decoder(g, view, memory)
    else:
        build_transformer(g, dataclasses.replace(scenario, tokens=seq + seq[-1:], task=TaskConfig(kind="next_token")))
    return g, memory


def _caches(n: int, g: Graph, scenario, memory: str | None) -> dict[str, np.ndarray]:
    """Token n's keys, values and last attention rows of every layer, by the engine's keys."""
    def value(key: str, last_row: bool = False) -> np.ndarray:
        v = g.nodes[key].detach()
        return (v[:, -1, :] if last_row else v).numpy()

    if memory is None:
        return {f"gen{n}.L{i}.{q}": value(f"L{i}.attn.{q}", q == "A")
                for i in range(scenario.model.n_layers) for q in "KVA"}
    out = {"gen.memory": value(memory)} if n == 1 else {}
    for i in range(scenario.model.n_dec_layers):
        for keys in (decoder_layer(i).self_attn, decoder_layer(i).cross_attn):
            out |= {f"gen{n}.{keys.at}.{q}": value(getattr(keys, q), q == "A") for q in "KVA"}
    return out


def _filtered(z: torch.Tensor, top_k: int, top_p: float, banned: list[int]) -> torch.Tensor:
    allowed = torch.ones_like(z, dtype=torch.bool)
    allowed[banned] = False
    keep = allowed.clone()
    if 0 < top_k < int(allowed.sum()):
        keep = torch.zeros_like(keep)
        keep[torch.topk(z.masked_fill(~allowed, float("-inf")), top_k).indices] = True
    if top_p < 1.0:
        p = torch.softmax(z.masked_fill(~keep, float("-inf")), dim=0)
        sorted_p, order = torch.sort(p, descending=True, stable=True)
        mass_before = torch.cumsum(sorted_p, 0) - sorted_p
        keep[order[mass_before >= top_p]] = False
    return z.masked_fill(~keep, float("-inf"))


def generate_reference(scenario, running: dict | None = None) -> dict[str, np.ndarray]:
    """Every generation key, recomputed from scratch per token; `running`: BatchNorm's statistics after
    training (none: torch's starting ones)."""
    g_cfg, vocab, m = scenario.generate, scenario.vocab, scenario.model
    greedy = g_cfg.greedy or g_cfg.temperature == 0
    rng = np.random.default_rng(g_cfg.seed)
    # a seq2seq decodes from its target's first token, <bos>; a decoder continues its whole input
    seq, out = list(scenario.tokens[:1] if m.kind == "seq2seq" else scenario.tokens), {}
    for n in range(1, g_cfg.max_new_tokens + 1):
        g, memory = _full_forward(scenario, seq, running or {})
        z = g.nodes["logits"][-1].detach()
        out[f"gen{n}.logits"] = z.numpy()
        out |= _caches(n, g, scenario, memory)
        banned = [i for i, v in enumerate(vocab) if v == PAD]
        drawable = torch.ones_like(z, dtype=torch.bool)
        drawable[banned] = False
        # the engine's z' = (z − max z) / τ, the max over drawable tokens: z / τ alone overflows for a tiny τ
        zt = (z - z[drawable].max()) / (g_cfg.temperature if g_cfg.temperature > 0 else 1.0)
        zf = _filtered(zt, g_cfg.top_k, g_cfg.top_p, banned)
        p = torch.softmax(zf, dim=0)
        r = float(rng.random())
        tok = int(torch.argmax(p)) if greedy else min(
            int(torch.searchsorted(torch.cumsum(p, 0), torch.tensor(r, dtype=torch.float64), right=True)), len(p) - 1)
        out.update({f"gen{n}.scaled": zt.numpy(), f"gen{n}.filtered": zf.numpy(), f"gen{n}.probs": p.numpy(),
                    f"gen{n}.token": np.array(float(tok))})
        seq.append(vocab[tok])
    return out
