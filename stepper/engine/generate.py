"""Generation, step by step: prefill the cache with the prompt, then decode one token at a time.

Recorded steps (phase "generate"), for token n = 1, 2, …:
  gen.prefill / gen.{n}.decode  the last position's logits (and each layer's K/V cache)
  gen.{n}.temperature           (z − max z) / τ
  gen.{n}.filter                top-k / top-p (when set)
  gen.{n}.softmax               the distribution drawn from
  gen.{n}.sample                the chosen token
and gen.text at the end. Keys (`gen{n}.…`) let the reference recompute each from scratch.

A seq2seq (seq2seq_cache.py) decodes its target from `<bos>`, its "prompt": the source is what it
reads, through the encoder once. Its cache steps show, per decoder layer, the self-attention K/V
(growing, rows = target tokens) and the cross-attention K/V (rows = source tokens, computed once), with
the new token's attention row over each; gen.text shows the source and the generated target.
"""

from __future__ import annotations

import numpy as np

from stepper.engine import sampling, seq2seq_cache, softmax
from stepper.engine.kv_cache import KVCache
from stepper.engine.record import Recorder, fmt_num, tensor
from stepper.scenario.types import PAD, Scenario
from stepper.trace import Formula
from stepper.trace_keys import decoder_layer

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
COSINE_DECODE_FORMULA = Formula(
    plain="q, k, v = new row only;  K ← [K; k], V ← [V; v];  a = softmax(q̂·K̂ᵀ/τ);  z = logits(new row)",
    latex=r"K \leftarrow \begin{bmatrix} K \\ k \end{bmatrix},\ V \leftarrow \begin{bmatrix} V \\ v \end{bmatrix},\quad a = \mathrm{softmax}\!\left(\frac{\hat q \hat K^\top}{\tau}\right),\quad z = \mathrm{logits}(a V \dots)",
    meaning="With cosine attention the new query and every cached key are scaled to length 1 before they meet, and the cosines divided by τ. Q is not cached: no later token needs it.",
)
TEXT_FORMULA = Formula(plain="text = prompt + generated tokens", latex=r"\text{prompt} \,\Vert\, \text{generated}",
                       meaning="The sequence as it grew, one sampled token at a time.")


def generate(sc: Scenario, rec: Recorder, running: dict | None = None) -> list[str]:
    """Decode `sc.generate.max_new_tokens` tokens; `running`: BatchNorm's statistics from training (decoding
    is evaluation: BatchNorm uses them, or torch's starting ones)."""
    g, m, vocab = sc.generate, sc.model, sc.vocab
    pad_id = vocab.index(PAD) if PAD in vocab else None
    rng = np.random.default_rng(g.seed)
    greedy = g.greedy or g.temperature == 0
    if m.kind == "seq2seq":  # the decoder starts from the target's first token, <bos>, given the source
        source = [vocab.index(t) for t in sc.source_tokens]
        cache, prompt = seq2seq_cache.Seq2SeqKVCache(m, sc.params, source, pad_id, running), list(sc.tokens[:1])
        prefill = ("Prefill: encode the source once, then <bos>", seq2seq_cache.PREFILL_FORMULA)
        decode = ("one new row vs the caches", seq2seq_cache.DECODE_FORMULA)
    else:
        cache, prompt = KVCache(m, sc.params, pad_id, running), list(sc.tokens)
        prefill = ("Prefill: the prompt fills the cache", PREFILL_FORMULA)
        decode = ("one new row vs the cache", COSINE_DECODE_FORMULA if m.attention == "cosine" else DECODE_FORMULA)
    z, infos = cache.feed([vocab.index(t) for t in prompt])
    _record_logits(rec, "gen.prefill", *prefill, 1, z, infos, sc, prompt,  # the prefill's logits are token 1's
                   memory=cache.memory if m.kind == "seq2seq" else None)
    out: list[str] = []
    for n in range(1, g.max_new_tokens + 1):
        if n > 1:
            z, infos = cache.feed([vocab.index(out[-1])])
            _record_logits(rec, f"gen.{n}.decode", f"Token {n}: {decode[0]}", decode[1], n, z, infos, sc,
                           prompt + out)
        tok = _choose(rec, n, z, g, greedy, rng, vocab)
        out.append(vocab[tok])
    _record_text(rec, sc, prompt, out)
    return out


def _ids(vocab: list[str], tokens: list[str], name: str, labels: list[str]):
    return tensor(name, np.array([vocab.index(t) for t in tokens], dtype=float), None, None, labels)


def _record_text(rec: Recorder, sc: Scenario, prompt: list[str], out: list[str]) -> None:
    text_tokens, outputs = prompt + out, {}
    bindings = {"prompt": " ".join(prompt), "generated": " ".join(out)}
    if sc.model.kind == "seq2seq":  # what was translated, beside what it became
        outputs["source"] = _ids(sc.vocab, sc.source_tokens, "source", list(sc.source_tokens))
        bindings = {"source": " ".join(sc.source_tokens)} | bindings
    outputs["ids"] = _ids(sc.vocab, text_tokens, "ids", text_tokens)
    rec.add("gen.text", "generate", "The generated text", TEXT_FORMULA, {}, outputs, bindings=bindings)


def _record_logits(rec, step_id, title, formula, n, z, infos, sc, seq, memory=None):
    vocab, pos = sc.vocab, [f"{t}@{i}" for i, t in enumerate(seq)]
    hs = [f"h{h}" for h in range(sc.model.n_heads)]
    src = [f"{t}@{i}" for i, t in enumerate(sc.source_tokens)]
    outputs = {} if memory is None else {"M": tensor("M (memory)", memory, "gen.memory", src, None)}
    bindings = {"cache length": str(len(seq)), "new": seq[-1] if n > 1 else " ".join(seq),
                "d_k": str(sc.model.d_k)}
    for i, info in enumerate(infos):
        # a decoder's keys are gen{n}.L{i}.K; a seq2seq's name the block: gen{n}.dec.L{i}.self.K, ….cross.K
        at = f"gen{n}.{decoder_layer(i).self_attn.at}" if "Kx" in info else f"gen{n}.L{i}"
        which = " self-attention" if "Kx" in info else ""
        outputs[f"K_L{i}"] = tensor(f"K (layer {i}{which})", info["K"], f"{at}.K", pos, None)
        outputs[f"V_L{i}"] = tensor(f"V (layer {i}{which})", info["V"], f"{at}.V", pos, None)
        outputs[f"A_L{i}"] = tensor(f"a (layer {i}{which}, last row)", info["A"][:, -1, :], f"{at}.A", hs, pos)
        if "Kx" in info:  # the same arrays at every token: computed once, from the memory
            at = f"gen{n}.{decoder_layer(i).cross_attn.at}"
            outputs[f"Kx_L{i}"] = tensor(f"K_x (layer {i} cross-attention, computed once)", info["Kx"], f"{at}.K",
                                         src, None)
            outputs[f"Vx_L{i}"] = tensor(f"V_x (layer {i} cross-attention, computed once)", info["Vx"], f"{at}.V",
                                         src, None)
            outputs[f"Ax_L{i}"] = tensor(f"a_x (layer {i} cross-attention, last row)", info["Ax"][:, -1, :],
                                         f"{at}.A", hs, src)
    if sc.model.kind == "seq2seq":
        bindings |= {"source": " ".join(sc.source_tokens),
                     "cross K, V": f"computed once from the memory: {len(src)} rows (the source tokens) "
                                   "in every decoder layer, the same for every token"}
    outputs["z"] = tensor("z", z, f"gen{n}.logits", None, vocab)
    rec.add(step_id, "generate", title, formula, {"tokens": _ids(vocab, seq, "tokens", pos)}, outputs,
            bindings=bindings, token=n)


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
