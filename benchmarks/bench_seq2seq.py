"""How long does a seq2seq's forward + backward take in our engine, next to torch.nn.Transformer?

GPT-2-small width: d_model 768, 12 heads, d_ff 3072, 6 encoder + 6 decoder layers, post-norm with final
norms (nn.Transformer's default), a 16-token source and a 16-token target, vocab 512, float64. Each round
times, one after the other:
  baseline — torch.nn.Transformer (dropout 0, batch first) holding the same weights: embeddings, both
             stacks, the head, the cross-entropy, one backward
  engine   — our numpy forward + backward, recording every step: `build_trace`, what `stepper run`,
             `check` and `export` compute (the bar is on this one)
  bare     — the same pass without recording (`loss_and_grads`, what a training update runs), for reference
  check    — what `stepper check` does once torch is loaded: the engine, the independent torch reference and
             the comparison of every step (`verify.entry.checked`); the bar (≤ 2.5×) is on this one
and prints min / median / max of each over the rounds; the last line is the ratio check / baseline.
Run: `python benchmarks/bench_seq2seq.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from stepper.engine import build_trace
from stepper.engine.run import loss_and_grads
from stepper.scenario import parse_scenario
from stepper.verify.entry import checked
from stepper.verify.memory import keep_freed_memory

D, H, FF, LAYERS, T, V = 768, 12, 3072, 6, 16, 512
BAR = 2.5


def scenario_text() -> str:
    vocab = ["<pad>", "<bos>", "<eos>"] + [f"t{i}" for i in range(V - 3)]
    rng = np.random.default_rng(0)
    source = [vocab[i] for i in rng.integers(3, V, size=T)]
    target = ["<bos>"] + [vocab[i] for i in rng.integers(3, V, size=T)]  # the decoder reads 16 tokens
    return f"""
name: seq2seq-gpt2-small-width
model: {{kind: seq2seq, d_model: {D}, n_heads: {H}, n_layers: {LAYERS}, n_dec_layers: {LAYERS}, d_ff: {FF},
        activation: relu, norm: post, final_norm: true, positional: sinusoidal}}
input: {{vocab: {vocab}, source: {source}, target: {target}}}
task: {{kind: seq2seq}}
weights: {{seed: 0, init: {{std: 0.02}}}}
"""


def _copy_attention(mha: torch.nn.MultiheadAttention, p: dict, at: str) -> None:
    """Ours are [in, out] per matrix; nn.MultiheadAttention stacks W_Q, W_K, W_V out×in in one [3D, D]."""
    mha.in_proj_weight.copy_(torch.cat([torch.from_numpy(p[f"{at}.W_{m}"]).T for m in "QKV"]))
    mha.in_proj_bias.copy_(torch.cat([torch.from_numpy(p[f"{at}.b_{m}"]) for m in "QKV"]))
    mha.out_proj.weight.copy_(torch.from_numpy(p[f"{at}.W_O"]).T)
    mha.out_proj.bias.copy_(torch.from_numpy(p[f"{at}.b_O"]))


def _copy_layer(layer, p: dict, at: str, attentions: dict[str, str], norms: int) -> None:
    for ours, theirs in attentions.items():
        _copy_attention(getattr(layer, theirs), p, f"{at}.{ours}")
    for n, lin in (("1", layer.linear1), ("2", layer.linear2)):
        lin.weight.copy_(torch.from_numpy(p[f"{at}.ffn.W_{n}"]).T)
        lin.bias.copy_(torch.from_numpy(p[f"{at}.ffn.b_{n}"]))
    for n in range(1, norms + 1):
        norm = getattr(layer, f"norm{n}")
        norm.weight.copy_(torch.from_numpy(p[f"{at}.ln{n}.gamma"]))
        norm.bias.copy_(torch.from_numpy(p[f"{at}.ln{n}.beta"]))


def nn_transformer(p: dict) -> torch.nn.Transformer:
    model = torch.nn.Transformer(D, H, LAYERS, LAYERS, FF, dropout=0.0, activation="relu", batch_first=True,
                                 dtype=torch.float64)
    with torch.no_grad():
        for i, layer in enumerate(model.encoder.layers):
            _copy_layer(layer, p, f"encoder.layers.{i}", {"attn": "self_attn"}, 2)
        for i, layer in enumerate(model.decoder.layers):
            _copy_layer(layer, p, f"decoder.layers.{i}", {"self_attn": "self_attn", "cross_attn": "multihead_attn"}, 3)
        for name, norm in (("encoder.ln_f", model.encoder.norm), ("decoder.ln_f", model.decoder.norm)):
            norm.weight.copy_(torch.from_numpy(p[f"{name}.gamma"]))
            norm.bias.copy_(torch.from_numpy(p[f"{name}.beta"]))
    return model


def sinusoidal(n: int) -> torch.Tensor:
    pos, two_i = torch.arange(n, dtype=torch.float64)[:, None], torch.arange(0, D, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, two_i / D)
    pe = torch.zeros(n, D, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


def torch_baseline(sc, model: torch.nn.Transformer) -> tuple[float, float]:
    """(seconds, loss) of one forward + backward of nn.Transformer with the scenario's weights."""
    model.zero_grad(set_to_none=True)
    table = torch.from_numpy(sc.params["embed.tok"]).requires_grad_(True)
    head_w = torch.from_numpy(sc.params["head.W"]).requires_grad_(True)
    head_b = torch.from_numpy(sc.params["head.b"]).requires_grad_(True)
    index = {t: i for i, t in enumerate(sc.vocab)}
    src = torch.tensor([index[t] for t in sc.source_tokens])
    ids = torch.tensor(sc.token_ids)
    tgt, targets = ids[:-1], ids[1:]
    pe, causal = sinusoidal(T), torch.ones(T, T, dtype=torch.bool).triu(1)
    gc.collect()
    start = time.perf_counter()
    out = model(F.embedding(src, table)[None] + pe, F.embedding(tgt, table)[None] + pe, tgt_mask=causal)[0]
    loss = F.cross_entropy(out @ head_w + head_b, targets)
    loss.backward()
    return time.perf_counter() - start, loss.item()


def timed(fn) -> tuple[float, object]:
    gc.collect()  # garbage from the previous run must not be freed inside this one's clock
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def spread(xs: list[float]) -> str:
    return f"min {min(xs):.3f}s  median {statistics.median(xs):.3f}s  max {max(xs):.3f}s"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    keep_freed_memory()  # as `stepper check` and the app's checking worker do (verify.checked)
    sc = parse_scenario(scenario_text(), "seq2seq-gpt2-small-width")
    print(f"scenario: {sum(v.size for v in sc.params.values()):,} parameters; source {T}, target {T} tokens")
    model = nn_transformer(sc.params)
    base, engine, bare, check = [], [], [], []
    for _ in range(args.repeat):  # interleaved, so that a slow spell of a shared machine hits all three alike
        seconds, their_loss = torch_baseline(sc, model)
        base.append(seconds)
        seconds, trace = timed(lambda: build_trace(sc))
        engine.append(seconds)
        assert abs(trace.loss - their_loss) <= 1e-9, (trace.loss, their_loss)
        del trace
        bare.append(timed(lambda: loss_and_grads(sc, sc.params))[0])
        seconds, (trace, verdicts) = timed(lambda: checked(sc, 1e-10))
        assert verdicts.totals.ok and all(c.ok for c in verdicts.values()), "verification failed"
        check.append(seconds)
        del trace, verdicts
    print(f"torch nn.Transformer float64 fwd+bwd   : {spread(base)}")
    print(f"stepper engine, recording (build_trace): {spread(engine)}")
    print(f"stepper engine, not recording          : {spread(bare)}")
    print(f"stepper check (engine + verify)        : {spread(check)}")
    for name, xs in (("engine", engine), ("check", check)):
        ratios = [e / b for e, b in zip(xs, base, strict=True)]
        print(f"per-round ratios {name}/torch: min {min(ratios):.2f}x  median {statistics.median(ratios):.2f}x  "
              f"max {max(ratios):.2f}x")
    print(f"engine ratio {min(engine) / min(base):.2f}x  (best recording engine / best torch)")
    # the one number asked for, alone on the last line
    print(f"ratio {min(check) / min(base):.2f}x  (best stepper check / best torch fwd+bwd; bar {BAR}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
