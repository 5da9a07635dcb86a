"""Generation for `kind: seq2seq`: decoding from `<bos>` given the source, with the source encoded once, each
decoder layer's cross-attention K/V computed once and a growing self-attention cache. Held to a cache-free
recompute (our own traced pass, and the independent torch reference through `verify`), and to
torch.nn.Transformer's own greedy decoding with the same weights."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from seq2seq_helpers import seq2seq_scenario, torch_greedy

from stepper.engine import build_trace
from stepper.engine.seq2seq import Seq2SeqPass
from stepper.engine.seq2seq_cache import Seq2SeqKVCache
from stepper.scenario.types import GenerateConfig
from stepper.verify.entry import checked

SOURCE_PADDED = ["I", "love", "pizza", "<pad>"]
OPTIONS = [
    {"norm": "post", "final_norm": True},
    {"norm": "pre", "final_norm": True, "activation": "gelu"},
    {"norm": "post", "final_norm": False, "positional": "learned", "tie_embeddings": True},
    {"norm": "pre", "final_norm": False, "activation": "gelu_tanh", "n_layers": 3, "n_dec_layers": 1},
]
IDS = ["post-final", "pre-final", "post-tied-learned", "pre-3+1"]


def generating(gen: GenerateConfig, source=SOURCE_PADDED, **model):
    # seed 8: weights whose greedy decodings vary (most random ones repeat one token)
    sc = seq2seq_scenario(source, d_model=8, n_heads=2, d_ff=12, seed=8, **model)
    return dataclasses.replace(sc, generate=gen)


def cache_free_logits(sc, target: list[str]) -> np.ndarray:
    """The last target token's logits from the traced (teacher-forced) pass over `target`, no cache."""
    view = dataclasses.replace(sc, tokens=target + target[-1:])  # the decoder reads all but the last
    _, cache = Seq2SeqPass(view, view.params, None).forward()
    return cache.logits[-1]


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_cached_decoding_equals_a_cache_free_recompute(options):
    sc = seq2seq_scenario(SOURCE_PADDED, d_model=8, n_heads=2, d_ff=12, seed=3, **options)
    index = {t: i for i, t in enumerate(sc.vocab)}
    cache = Seq2SeqKVCache(sc.model, sc.params, [index[t] for t in sc.source_tokens], index["<pad>"])
    target, cross = ["<bos>"], None
    z, infos = cache.feed([index["<bos>"]])
    for nxt in ["me", "la", "la", "pizza", None]:
        assert np.abs(z - cache_free_logits(sc, target)).max() < 1e-12
        assert [info["K"].shape for info in infos] == [(len(target), 8)] * sc.model.n_dec_layers
        # cross-attention: one row per source token, the very same arrays at every token
        assert all(info["Kx"].shape == (4, 8) and info["Ax"].shape == (2, 1, 4) for info in infos)
        assert cross is None or all(a is b["Kx"] for a, b in zip(cross, infos, strict=True))
        assert all(info["Ax"][:, -1, 3].max() == 0.0 for info in infos)  # the source's <pad> is never attended to
        cross = [info["Kx"] for info in infos]
        if nxt:
            target.append(nxt)
            z, infos = cache.feed([index[nxt]])


def engine_logits(trace) -> list[np.ndarray]:
    return [s.outputs["z"].value for s in trace.steps if s.part in ("prefill", "decode")]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # norm_first: torch's fast path is off
@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_greedy_decoding_matches_nn_transformer(options):
    sc = generating(GenerateConfig(max_new_tokens=6, greedy=True), **options)
    trace = build_trace(sc)
    tokens, logits = torch_greedy(sc, 6)
    assert trace.generated == tokens
    assert len(set(tokens)) > 1, "a decoding that repeats one token would prove little"
    for ours, theirs in zip(engine_logits(trace), logits, strict=True):
        assert np.abs(ours - theirs).max() <= 1e-9


@pytest.mark.parametrize("gen", [GenerateConfig(max_new_tokens=4, greedy=True),
                                 GenerateConfig(max_new_tokens=4, temperature=0.7, top_k=3, seed=1),
                                 GenerateConfig(max_new_tokens=3, top_p=0.8, seed=4)], ids=["greedy", "top-k", "top-p"])
@pytest.mark.parametrize("options", OPTIONS[:3], ids=IDS[:3])
def test_every_generation_step_verifies_against_a_cache_free_torch_recompute(gen, options):
    sc = generating(gen, **options)
    trace, verdicts = checked(sc)
    steps = [s for s in trace.steps if s.phase == "generate"]
    assert len(trace.generated) == gen.max_new_tokens and steps
    assert all(verdicts[s.id].ok for s in steps), [s.id for s in steps if not verdicts[s.id].ok]
    compared = [s.id for s in steps if verdicts[s.id].worst != "nothing to compare"]
    assert "gen.prefill" in compared and f"gen.{gen.max_new_tokens}.decode" in compared


def test_the_cache_steps_show_both_caches_by_their_keys():
    sc = generating(GenerateConfig(max_new_tokens=3, greedy=True), n_dec_layers=2)
    trace = build_trace(sc)
    prefill, third = trace.steps[trace.index_of("gen.prefill")], trace.steps[trace.index_of("gen.3.decode")]
    assert prefill.outputs["M"].key == "gen.memory" and prefill.outputs["M"].shape == (4, 8)
    for i in range(2):
        self_k, cross_k, cross_a = (third.outputs[f"{n}_L{i}"] for n in ("K", "Kx", "Ax"))
        assert self_k.key == f"gen3.dec.L{i}.self.K" and self_k.shape == (3, 8)
        assert self_k.rows == ["<bos>@0", f"{trace.generated[0]}@1", f"{trace.generated[1]}@2"]
        assert cross_k.key == f"gen3.dec.L{i}.cross.K" and cross_k.rows == ["I@0", "love@1", "pizza@2", "<pad>@3"]
        assert "computed once" in cross_k.symbol and cross_a.shape == (2, 4) and cross_a.cols == cross_k.rows
        assert np.array_equal(cross_k.value, prefill.outputs[f"Kx_L{i}"].value)
    assert "computed once" in third.bindings["cross K, V"] and third.bindings["source"] == "I love pizza <pad>"
    text = trace.steps[trace.index_of("gen.text")]
    assert text.bindings["prompt"] == "<bos>" and text.bindings["generated"] == " ".join(trace.generated)
    assert text.outputs["source"].cols == SOURCE_PADDED and text.outputs["ids"].cols == ["<bos>", *trace.generated]


def test_seeded_sampling_is_stable_and_seed_dependent():
    def run(seed: int) -> list[str]:
        return build_trace(generating(GenerateConfig(max_new_tokens=8, temperature=1.5, top_k=5, seed=seed))).generated

    runs = {seed: run(seed) for seed in (0, 1, 2)}
    assert run(0) == runs[0]
    assert len({tuple(v) for v in runs.values()}) > 1
    assert "<pad>" not in sum(runs.values(), [])
    assert all(len(v) == 8 for v in runs.values())


def test_the_source_decides_the_decoding():
    gen = GenerateConfig(max_new_tokens=2, greedy=True)
    one, other = (build_trace(generating(gen, source=source)) for source in (["I", "love", "pizza"], ["pizza", "I"]))
    assert np.abs(engine_logits(one)[0] - engine_logits(other)[0]).min() > 1e-6
    padded = build_trace(generating(gen, source=["I", "love", "pizza", "<pad>", "<pad>"]))
    assert np.abs(engine_logits(padded)[1] - engine_logits(one)[1]).max() < 1e-12  # <pad> changes nothing


def test_every_generation_key_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "trace-keys.md").read_text(encoding="utf-8")
    trace = build_trace(generating(GenerateConfig(max_new_tokens=2, top_k=3)))
    keys = {t.key for s in trace.steps if s.phase == "generate" for t in s.outputs.values() if t.key}
    written = {re.sub(r"\.L\d+\.", ".L{i}.", re.sub(r"^gen\d+\.", "gen{n}.", k)) for k in keys}
    assert "gen{n}.dec.L{i}.cross.A" in written and "gen.memory" in written
    assert [k for k in sorted(written) if f"`{k}`" not in doc] == []
