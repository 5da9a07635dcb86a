"""The batched transformer's training speed next to a plain PyTorch float64 training loop.

A decoder of d_model 32, 2 layers, 4 heads, d_ff 128, vocab 30, exact GELU, pre-norm with a final norm
and learned positions; 64 examples of 8–16 tokens in batches of 8; AdamW. Each round times, one
after the other, the same updates (same weights, same batches):
  torch — a plain loop: torch functions forward, autograd backward, torch.optim.AdamW.step
  numpy — BatchedTransformer.loss_and_grads and the same AdamW written in numpy
and the last line prints numpy / torch: min, median and max over the rounds.
Run: `python benchmarks/bench_batched_model.py [--rounds 5] [--updates 200]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from stepper.engine.batched_transformer import BatchedTransformer
from stepper.engine.batches import Batch
from stepper.scenario.types import PAD, ModelConfig, Scenario, TaskConfig

D, LAYERS, HEADS, FF, VOCAB, B, N_EXAMPLES = 32, 2, 4, 128, 30, 8, 64
LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 0.01


def setup() -> tuple[Scenario, list[Batch]]:
    rng = np.random.default_rng(0)
    shapes = {"embed.tok": (VOCAB, D), "embed.pos": (16, D)}
    for i in range(LAYERS):
        at = f"layers.{i}"
        shapes |= {f"{at}.attn.W_{w}": (D, D) for w in "QKVO"} | {f"{at}.attn.b_{w}": (D,) for w in "QKVO"}
        shapes |= {f"{at}.ln1.gamma": (D,), f"{at}.ln1.beta": (D,), f"{at}.ln2.gamma": (D,), f"{at}.ln2.beta": (D,)}
        shapes |= {f"{at}.ffn.W_1": (D, FF), f"{at}.ffn.b_1": (FF,), f"{at}.ffn.W_2": (FF, D), f"{at}.ffn.b_2": (D,)}
    shapes |= {"ln_f.gamma": (D,), "ln_f.beta": (D,), "head.W": (D, VOCAB), "head.b": (VOCAB,)}
    params = {k: (1.0 + 0.1 * rng.standard_normal(s)) if k.endswith("gamma") else 0.2 * rng.standard_normal(s)
              for k, s in shapes.items()}
    model = ModelConfig(kind="decoder", d_model=D, n_heads=HEADS, n_layers=LAYERS, d_ff=FF, norm="pre",
                        final_norm=True, positional="learned", max_len=16)
    vocab = [PAD] + [f"t{i}" for i in range(VOCAB - 1)]
    sc = Scenario("bench", model, TaskConfig(kind="next_token"), vocab, vocab[1:3], params)
    examples = [rng.integers(1, VOCAB, rng.integers(8, 17)) for _ in range(N_EXAMPLES)]
    batches = []
    for j in range(0, N_EXAMPLES, B):
        group = examples[j:j + B]
        t = max(len(e) for e in group) - 1
        ids = np.array([np.pad(e[:-1], (0, t - len(e) + 1)) for e in group])
        targets = np.array([np.pad(e[1:], (0, t - len(e) + 1), constant_values=-1) for e in group])
        batches.append(Batch(ids=ids, pad=ids == 0, targets=targets))
    return sc, batches


def numpy_loop(sc: Scenario, batches: list[Batch], updates: int) -> float:
    model = BatchedTransformer(sc)
    params = {k: v.copy() for k, v in sc.params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    for t in range(1, updates + 1):
        _, grads, _ = model.loss_and_grads(params, batches[(t - 1) % len(batches)])
        c1, c2 = 1 - BETAS[0] ** t, 1 - BETAS[1] ** t
        for k, g in grads.items():
            w = params[k]
            w *= 1 - LR * WD
            m[k] = BETAS[0] * m[k] + (1 - BETAS[0]) * g
            v2[k] = BETAS[1] * v2[k] + (1 - BETAS[1]) * g * g
            w -= (LR / c1) * m[k] / (np.sqrt(v2[k]) / np.sqrt(c2) + EPS)
    return float(sum(p.sum() for p in params.values()))


def torch_loss(p: dict[str, torch.Tensor], b: Batch) -> torch.Tensor:
    ids, pad = torch.from_numpy(b.ids), torch.from_numpy(b.pad)
    n, t = ids.shape
    dk = D // HEADS
    x = F.embedding(ids, p["embed.tok"]) + p["embed.pos"][:t]
    blocked = pad[:, None, None, :] | torch.ones(t, t, dtype=torch.bool).triu(1)
    for i in range(LAYERS):
        at = f"layers.{i}"
        a = F.layer_norm(x, (D,), p[f"{at}.ln1.gamma"], p[f"{at}.ln1.beta"])
        q, k, v = ((a @ p[f"{at}.attn.W_{w}"] + p[f"{at}.attn.b_{w}"]).view(n, t, HEADS, dk).transpose(1, 2)
                   for w in "QKV")
        s = (q @ k.transpose(-1, -2) / dk ** 0.5).masked_fill(blocked, float("-inf"))
        z = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(n, t, D)
        x = x + z @ p[f"{at}.attn.W_O"] + p[f"{at}.attn.b_O"]
        a = F.layer_norm(x, (D,), p[f"{at}.ln2.gamma"], p[f"{at}.ln2.beta"])
        x = x + F.gelu(a @ p[f"{at}.ffn.W_1"] + p[f"{at}.ffn.b_1"]) @ p[f"{at}.ffn.W_2"] + p[f"{at}.ffn.b_2"]
    x = F.layer_norm(x, (D,), p["ln_f.gamma"], p["ln_f.beta"])
    logits = x @ p["head.W"] + p["head.b"]
    return F.cross_entropy(logits.reshape(-1, VOCAB), torch.from_numpy(b.targets).reshape(-1), ignore_index=-1)


def torch_loop(sc: Scenario, batches: list[Batch], updates: int) -> float:
    params = {k: torch.tensor(v, requires_grad=True) for k, v in sc.params.items()}
    opt = torch.optim.AdamW(params.values(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    for t in range(updates):
        opt.zero_grad()
        torch_loss(params, batches[t % len(batches)]).backward()
        opt.step()
    return float(sum(p.detach().sum() for p in params.values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--updates", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    sc, batches = setup()
    assert abs(numpy_loop(sc, batches, 20) - torch_loop(sc, batches, 20)) < 1e-8, "the two loops disagree"
    ratios = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        torch_loop(sc, batches, args.updates)
        mid = time.perf_counter()
        numpy_loop(sc, batches, args.updates)
        end = time.perf_counter()
        ratios.append((end - mid) / (mid - start))
        print(f"torch {1e3 * (mid - start) / args.updates:.3f} ms/update   "
              f"numpy {1e3 * (end - mid) / args.updates:.3f} ms/update")
    print(f"numpy / torch: min {min(ratios):.2f}  median {statistics.median(ratios):.2f}  max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
