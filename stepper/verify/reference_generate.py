"""Generation in the reference: no cache at all, the whole sequence recomputed for every token.

If the engine's cached decode gives the same logits, keys, values and attention rows as a
from-scratch torch forward over the sequence so far, the cache is right. Filtering and
sampling use torch's own topk / sort / cumsum / searchsorted, and the same seeded draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from stepper.scenario.types import PAD, TaskConfig
from stepper.verify.graph import Graph
from stepper.verify.reference_transformer import build_transformer


def _full_forward(scenario, seq: list[str]) -> Graph:
    # next_token reads all tokens but the last: append a dummy so the whole `seq` is read
    view = dataclasses.replace(scenario, tokens=seq + seq[-1:], task=TaskConfig(kind="next_token"))
    g = Graph()
    for name, value in scenario.params.items():
        g.param(name, value)
    build_transformer(g, view)  # with autograd on: the graph keeps gradients, though none are asked for
    return g


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


def generate_reference(scenario) -> dict[str, np.ndarray]:
    g_cfg, vocab, m = scenario.generate, scenario.vocab, scenario.model
    greedy = g_cfg.greedy or g_cfg.temperature == 0
    rng = np.random.default_rng(g_cfg.seed)
    seq, out = list(scenario.tokens), {}
    for n in range(1, g_cfg.max_new_tokens + 1):
        g = _full_forward(scenario, seq)
        z = g.nodes["logits"][-1].detach()
        out[f"gen{n}.logits"] = z.numpy()
        for i in range(m.n_layers):
            out[f"gen{n}.L{i}.K"] = g.nodes[f"L{i}.attn.K"].detach().numpy()
            out[f"gen{n}.L{i}.V"] = g.nodes[f"L{i}.attn.V"].detach().numpy()
            out[f"gen{n}.L{i}.A"] = g.nodes[f"L{i}.attn.A"][:, -1, :].detach().numpy()
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
