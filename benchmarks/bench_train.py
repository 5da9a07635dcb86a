"""How long does training on a data set take, next to a plain PyTorch training loop?

A decoder of d_model 32, 2 layers, 4 heads, d_ff 128 (pre-norm, learned positions, final norm), 64
examples of 8–16 tokens, batch 8, 500 AdamW updates with gradient clipping and a cosine schedule
with warm-up, float64. Three figures, each over N rounds (min / median / max):
  engine   — stepper's numpy training alone (`trainer.fit`), in this process
  baseline — the same training as a plain torch loop (nn.TransformerEncoderLayer with a causal mask,
             torch.optim.AdamW, clip_grad_norm_, LambdaLR), in this process
  check    — the whole `stepper check FILE` process (engine + the verified torch reference), against
             the whole baseline process (`python benchmarks/bench_train.py --baseline-only FILE`)
and the peak memory of both processes. The bars: engine ≤ 1.0× baseline; check ≤ 2.2× the baseline
process; peak memory ≤ 2×. Run: `python benchmarks/bench_train.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

D, LAYERS, HEADS, FF, N, BATCH, UPDATES = 32, 2, 4, 128, 64, 8, 500
WORDS = [f"w{i}" for i in range(24)]


def scenario_text() -> str:
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(N):
        n = int(rng.integers(8, 17))
        lines.append("    - {tokens: [" + ", ".join(WORDS[i] for i in rng.integers(0, len(WORDS), n)) + "]}")
    examples = "\n".join(lines)
    return f"""name: bench-train
model: {{kind: decoder, d_model: {D}, n_heads: {HEADS}, n_layers: {LAYERS}, d_ff: {FF}, activation: gelu,
        norm: pre, final_norm: true, positional: learned, max_len: 16}}
task: {{kind: next_token}}
weights: {{seed: 0, init: {{std: 0.1}}}}
data:
  batch_size: {BATCH}
  examples:
{examples}
optim: {{kind: adamw, lr: 0.003, weight_decay: 0.01, clip_grad_norm: 1.0, steps: {UPDATES},
        schedule: {{kind: cosine, warmup: 20}}}}
"""


def torch_training(sc) -> float:
    """The same model and training as a plain torch float64 loop; returns seconds (import excluded)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_default_dtype(torch.float64)
    # torch's fastest setting for tensors this small: with two threads they mostly wait for each other
    torch.set_num_threads(1)
    vocab = len(sc.vocab)
    pad = sc.vocab.index("<pad>")
    tok, pos = nn.Embedding(vocab, D), nn.Embedding(16, D)
    layers = nn.ModuleList(nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation="gelu",
                                                      batch_first=True, norm_first=True) for _ in range(LAYERS))
    final, head = nn.LayerNorm(D), nn.Linear(D, vocab)
    params = [p for m in (tok, pos, layers, final, head) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=0.003, weight_decay=0.01)

    def cosine(t: int, warmup: int = 20) -> float:
        if t < warmup:
            return t / max(1, warmup)
        progress = (t - warmup) / max(1, UPDATES - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine)
    index = {t: i for i, t in enumerate(sc.vocab)}
    examples = [[index[t] for t in e.tokens] for e in sc.data.examples]
    start = time.perf_counter()
    for t in range(UPDATES):
        j = t % math.ceil(N / BATCH)
        batch = examples[j * BATCH:(j + 1) * BATCH]
        width = max(len(e) for e in batch)
        ids = torch.tensor([e + [pad] * (width - len(e)) for e in batch])
        x_ids, y_ids = ids[:, :-1], ids[:, 1:]
        steps = x_ids.shape[1]
        causal = torch.ones(steps, steps, dtype=torch.bool).triu(1)
        x = tok(x_ids) + pos.weight[:steps]
        for layer in layers:
            x = layer(x, src_mask=causal, src_key_padding_mask=x_ids == pad)
        logits = head(final(x))
        loss = F.cross_entropy(logits.reshape(-1, vocab), y_ids.reshape(-1), ignore_index=pad)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
    return time.perf_counter() - start


def engine_training(sc) -> float:
    from stepper.engine.trainer import fit

    start = time.perf_counter()
    fit(sc)
    return time.perf_counter() - start


def process(cmd: list[str]) -> tuple[float, int]:
    """Wall-clock seconds and peak resident memory (KiB) of one process."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    return took, int(done.stderr.strip().splitlines()[-1])


def spread(xs: list[float]) -> str:
    return f"min {min(xs):.3f} / median {statistics.median(xs):.3f} / max {max(xs):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-only", metavar="FILE", help="run only the torch loop on FILE (one process)")
    args = parser.parse_args()
    from stepper.scenario import load_scenario

    if args.baseline_only:
        torch_training(load_scenario(args.baseline_only))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench_train.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(scenario_text())
        sc = load_scenario(path, force=True)
        engine, torch_loop, check, base_proc, check_mem, base_mem = [], [], [], [], [], []
        for _ in range(args.repeat):
            engine.append(engine_training(sc))
            torch_loop.append(torch_training(sc))
            took, mem = process([sys.executable, "-m", "stepper", "check", "-q", "--force", path])
            check.append(took)
            check_mem.append(mem)
            took, mem = process([sys.executable, __file__, "--baseline-only", path])
            base_proc.append(took)
            base_mem.append(mem)
    print(f"engine training   {spread(engine)} s")
    print(f"torch training    {spread(torch_loop)} s")
    print(f"stepper check     {spread(check)} s (process), peak {max(check_mem) / 1024:.0f} MiB")
    print(f"torch process     {spread(base_proc)} s (process), peak {max(base_mem) / 1024:.0f} MiB")
    ratios = [e / b for e, b in zip(engine, torch_loop, strict=True)]
    check_ratios = [c / b for c, b in zip(check, base_proc, strict=True)]
    print(f"memory ratio      {max(check_mem) / max(base_mem):.2f}× (bar 2×)")
    print(f"check ratio       {spread(check_ratios)}× (bar 2.2×)")
    print(f"engine ratio      {spread(ratios)}× (bar 1.0×)")


if __name__ == "__main__":
    main()
