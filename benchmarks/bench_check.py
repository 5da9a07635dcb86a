"""How long does `stepper check` take on a GPT-2-small-shaped model, next to plain PyTorch?

12 layers, d_model 768, 12 heads, d_ff 3072, 64 tokens, vocab 512, float64. The baseline is a
plain torch forward + backward of the same model with the same weights (no retained
intermediates). In each of N rounds we time, one after the other:
  baseline — the plain torch forward + backward
  engine   — our numpy forward + backward, recording every step (`build_trace`)
  check    — engine + the independent torch reference + the per-step comparison (`checked`:
             torch is loaded here, so the engine and the reference run side by side)
and print the best of each, then on the last line the ratio asked for: the best check time over the
best baseline time (the median of the per-round check ratios, which a noisy machine moves less,
is printed beside the check time). Run: `python benchmarks/bench_check.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from stepper.engine import build_trace
from stepper.scenario import parse_scenario
from stepper.verify.entry import checked
from stepper.verify.memory import keep_freed_memory

L, D, H, FF, T, V = 12, 768, 12, 3072, 64, 512


def scenario_text() -> str:
    vocab = [f"t{i}" for i in range(V)]
    rng = np.random.default_rng(0)
    tokens = [vocab[i] for i in rng.integers(1, V, size=T + 1)]  # T inputs + 1 shifted target
    return f"""
name: gpt2-small-shape
model: {{kind: decoder, d_model: {D}, n_heads: {H}, n_layers: {L}, d_ff: {FF}, activation: gelu_tanh,
        norm: pre, final_norm: true, positional: learned, max_len: 128, tie_embeddings: true}}
input: {{vocab: {vocab}, tokens: {tokens}}}
task: {{kind: next_token}}
weights: {{seed: 0, init: {{std: 0.02}}}}
"""


def torch_baseline(sc) -> float:
    """A plain float64 GPT-2-style forward + backward in torch; returns seconds."""
    p = {k: torch.from_numpy(v).requires_grad_(True) for k, v in sc.params.items()}
    ids = torch.tensor(sc.token_ids)
    x_ids, y_ids = ids[:-1], ids[1:]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    gc.collect()
    start = time.perf_counter()
    x = p["embed.tok"][x_ids] + p["embed.pos"][:T]
    for i in range(L):
        pre = f"layers.{i}"
        a = F.layer_norm(x, (D,), p[f"{pre}.ln1.gamma"], p[f"{pre}.ln1.beta"])
        q, k, v = (
            (a @ p[f"{pre}.attn.W_{m}"] + p[f"{pre}.attn.b_{m}"]).view(T, H, D // H).transpose(0, 1)
            for m in "QKV"
        )
        s = (q @ k.transpose(-2, -1) / math.sqrt(D // H)).masked_fill(~causal, float("-inf"))
        z = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(T, D)
        x = x + z @ p[f"{pre}.attn.W_O"] + p[f"{pre}.attn.b_O"]
        f = F.layer_norm(x, (D,), p[f"{pre}.ln2.gamma"], p[f"{pre}.ln2.beta"])
        h = F.gelu(f @ p[f"{pre}.ffn.W_1"] + p[f"{pre}.ffn.b_1"], approximate="tanh")
        x = x + h @ p[f"{pre}.ffn.W_2"] + p[f"{pre}.ffn.b_2"]
    x = F.layer_norm(x, (D,), p["ln_f.gamma"], p["ln_f.beta"])
    loss = F.cross_entropy(x @ p["embed.tok"].T, y_ids)
    loss.backward()
    return time.perf_counter() - start


def timed(fn) -> float:
    """Seconds `fn` takes to produce its result; like the baseline's, the clock stops before it is freed."""
    gc.collect()  # garbage from the previous run must not be freed inside this one's clock
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    del result
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    keep_freed_memory()  # as `stepper check` does before it reads a scenario
    t0 = time.perf_counter()
    sc = parse_scenario(scenario_text(), "gpt2-small-shape")
    print(f"scenario: {sum(v.size for v in sc.params.values()):,} parameters, loaded in "
          f"{time.perf_counter() - t0:.2f}s")

    def check():  # what `stepper check` does with a scenario once torch is loaded: engine, reference, compare
        trace, verdicts = checked(sc, 1e-10)
        assert verdicts.totals.ok and all(c.ok for c in verdicts.values()), "verification failed"
        return trace

    # rounds interleave the three so that a slow spell of a shared machine hits all of them alike;
    # the best of each is the cost of the work itself
    rounds = [(torch_baseline(sc), timed(lambda: build_trace(sc)), timed(check))
              for _ in range(args.repeat)]
    base, engine, full = (min(r[i] for r in rounds) for i in range(3))
    per_round = statistics.median(r[2] / r[0] for r in rounds)
    print(f"torch float64 forward+backward : {base:.3f}s")
    print(f"stepper engine (numpy, traced)  : {engine:.3f}s   ({engine / base:.2f}x the torch time)")
    print(f"stepper check (engine + verify) : {full:.3f}s   (median of the per-round ratios {per_round:.2f}x)")
    # the one number asked for, alone on the last line: check's best time over torch's best time
    print(f"ratio {full / base:.2f}x  (stepper check / plain torch forward+backward; target 2.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
