"""Generation, step by step: prefill the cache with the prompt, then decode one token at a time.

Recorded steps (phase "generate"), for token n = 1, 2, …:
  gen.prefill / gen.{n}.decode  the last position's logits (and each layer's K/V cache)
  gen.{n}.temperature           (z − max z) / τ
  gen.{n}.filter                top-k / top-p (when set)
  gen.{n}.softmax               the distribution drawn from
  gen.{n}.sample                the chosen token
and gen.text at the end. Keys (`gen{n}.…`) let the reference recompute each from scratch.
"""

from __future__ import annotations

import numpy as np

from stepper.engine import sampling, softmax
from stepper.engine.kv_cache import KVCache
from stepper.engine.record import Recorder, fmt_num, tensor
from stepper.scenario.types import PAD, Scenario
from stepper.trace import Formula

PREFILL_FORMULA = Formula(
    plain="run the prompt once; cache K, V of every position in every layer; z = logits of the last position",
    latex=r"K^{(\ell)}_{1..T},\ V^{(\ell)}_{1..T}\ \text{cached};\quad z = \mathrm{logits}(h_T)",
    meaning="Prefill processes the whole prompt in parallel and keeps its keys and values; only the last position's logits predict what comes next.",
)
DECODE_FORMULA = Formula(
    plain="q, k, v = new row only;  K ← [K; k], V ← [V; v];  a = softmax(q·Kᵀ/√d_k);  z = logits(new row)",
    latex=r"K \leftarrow \begin{bmatrix} K \\ k \end{bmatrix},\ V \leftarrow \begin{bmatrix} V \\ v \end{bmatrix},\quad a = \mathrm{softmax}\!\left(\frac{q K^\top}{\sqrt{d_k}}\right),\quad z = \mathrm{logits}(a V \dots)",
    meaning="A decode step computes Q, K, V for the new token alone, appends K and V to the cache, and attends over all of it. Q is not cached: no later token needs it.",
)
TEXT_FORMULA = Formula(plain="text = prompt + generated tokens", latex=r"\text{prompt} \,\Vert\, \text{generated}",
                       meaning="The sequence as it grew, one sampled token at a time.")


def generate(sc: Scenario, rec: Recorder) -> list[str]:
    g, m, vocab = sc.generate, sc.model, sc.vocab
    pad_id = vocab.index(PAD) if PAD in vocab else None
    cache = KVCache(m, sc.params, pad_id)
    rng = np.random.default_rng(g.seed)
    greedy = g.greedy or g.temperature == 0
    prompt = list(sc.tokens)
    z, infos = cache.feed(sc.token_ids)
    _record_logits(rec, "gen.prefill", "Prefill: the prompt fills the cache", PREFILL_FORMULA, 1, z, infos, sc,
                   prompt)  # the prefill's logits are token 1's
    out: list[str] = []
    for n in range(1, g.max_new_tokens + 1):
        if n > 1:
            z, infos = cache.feed([vocab.index(out[-1])])
            _record_logits(rec, f"gen.{n}.decode", f"Token {n}: one new row vs the cache",
                           DECODE_FORMULA, n, z, infos, sc, prompt + out)
        tok = _choose(rec, n, z, g, greedy, rng, vocab)
        out.append(vocab[tok])
    text_tokens = prompt + out
    rec.add("gen.text", "generate", "The generated text", TEXT_FORMULA, {},
            {"ids": tensor("ids", np.array([vocab.index(t) for t in text_tokens], dtype=float), None, None,
                           text_tokens)},
            bindings={"prompt": " ".join(prompt), "generated": " ".join(out)})
    return out


def _record_logits(rec, step_id, title, formula, n, z, infos, sc, seq):
    vocab, pos = sc.vocab, [f"{t}@{i}" for i, t in enumerate(seq)]
    outputs = {}
    for i, info in enumerate(infos):
        outputs[f"K_L{i}"] = tensor(f"K (layer {i})", info["K"], f"gen{n}.L{i}.K", pos, None)
        outputs[f"V_L{i}"] = tensor(f"V (layer {i})", info["V"], f"gen{n}.L{i}.V", pos, None)
        outputs[f"A_L{i}"] = tensor(f"a (layer {i}, last row)", info["A"][:, -1, :], f"gen{n}.L{i}.A",
                                    [f"h{h}" for h in range(sc.model.n_heads)], pos)
    outputs["z"] = tensor("z", z, f"gen{n}.logits", None, vocab)
    new = seq[-1] if n > 1 else " ".join(seq)
    rec.add(step_id, "generate", title, formula,
            {"tokens": tensor("tokens", np.array([sc.vocab.index(t) for t in seq], dtype=float), None, None, pos)},
            outputs, bindings={"cache length": str(len(seq)), "new": new, "d_k": str(sc.model.d_k)}, token=n)


def _choose(rec, n, z, g, greedy, rng, vocab) -> int:
    tau = g.temperature if g.temperature > 0 else 1.0
    banned = tuple(i for i, v in enumerate(vocab) if v == PAD)
    zt = sampling.apply_temperature(z, tau, banned)  # [V]
    rec.add(f"gen.{n}.temperature", "generate", f"Token {n}: temperature", sampling.TEMPERATURE_FORMULA,
            {"z": tensor("z", z, f"gen{n}.logits", None, vocab)},
            {"z'": tensor("z'", zt, f"gen{n}.scaled", None, vocab)},
            bindings={"τ": fmt_num(g.temperature)},
            token=n)
    if g.top_k or g.top_p < 1.0 or banned:
        keep = sampling.keep_mask(zt, g.top_k, g.top_p, banned)  # [V]
        zf = sampling.filter_logits(zt, keep)  # [V]
        rec.add(f"gen.{n}.filter", "generate", f"Token {n}: top-k / top-p filter", sampling.FILTER_FORMULA,
                {"z'": tensor("z'", zt, f"gen{n}.scaled", None, vocab)},
                {"z_kept": tensor("z_kept", zf, f"gen{n}.filtered", None, vocab)},
                bindings={"top_k": str(g.top_k), "top_p": fmt_num(g.top_p),
                          "never": ", ".join(vocab[i] for i in banned) or "—",
                          "kept": ", ".join(v for v, k in zip(vocab, keep, strict=True) if k)}, token=n)
    else:
        zf = zt
    p, _ = softmax.forward(zf)  # [V]
    rec.add(f"gen.{n}.softmax", "generate", f"Token {n}: the distribution", sampling.SOFTMAX_FORMULA,
            {"z_kept": tensor("z_kept", zf, f"gen{n}.filtered", None, vocab)},
            {"p": tensor("p", p, f"gen{n}.probs", None, vocab)}, token=n)
    r = float(rng.random())
    tok = sampling.choose(p, r, greedy)
    rec.add(f"gen.{n}.sample", "generate", f"Token {n}: {'greedy pick' if greedy else 'sample'} → {vocab[tok]!r}",
            sampling.SAMPLE_FORMULA, {"p": tensor("p", p, f"gen{n}.probs", None, vocab)},
            {"next": tensor("next", np.array(float(tok)), f"gen{n}.token")},
            bindings={"r": f"{r:.6f}", "greedy": str(greedy).lower(), "token": vocab[tok],
                      "p(token)": fmt_num(float(p[tok]))}, token=n)
    return tok
