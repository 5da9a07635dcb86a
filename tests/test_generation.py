"""Generation: the KV cache equals a full recompute, sampling is what it says, and all of it verifies."""

import dataclasses

import numpy as np
import pytest
import yaml

from stepper.engine import build_trace, sampling
from stepper.engine.kv_cache import KVCache
from stepper.engine.transformer import TransformerPass
from stepper.scenario import TaskConfig, parse_scenario, with_generation
from stepper.verify.compare import verify_trace
from stepper.verify.reference import torch_reference


def decoder(generate=None, **model):
    doc = {"name": "gen", "model": {"kind": "decoder", "d_model": 8, "n_heads": 2, "n_layers": 2, "d_ff": 12,
                                    "norm": "pre", "final_norm": True, "positional": "sinusoidal", **model},
           "input": {"tokens": ["a", "b", "c", "a", "d"]}, "task": {"kind": "next_token"},
           "weights": {"seed": 5, "init": {"std": 0.7}}}
    if generate:
        doc["generate"] = generate
    return parse_scenario(yaml.safe_dump(doc))


def full_logits(sc, tokens):
    """The last position's logits from the traced forward pass over `tokens`, no cache."""
    view = dataclasses.replace(sc, tokens=tokens + tokens[-1:], task=TaskConfig(kind="next_token"))
    _, cache = TransformerPass(view, view.params, None).forward()
    return cache.logits[-1]


def test_cached_decode_equals_a_full_recompute():
    sc = decoder()
    cache = KVCache(sc.model, sc.params, sc.vocab.index("<pad>"))
    tokens = list(sc.tokens)
    z, _ = cache.feed([sc.vocab.index(t) for t in tokens])
    assert np.abs(z - full_logits(sc, tokens)).max() < 1e-12
    for nxt in ["b", "c", "d"]:
        tokens.append(nxt)
        z, infos = cache.feed([sc.vocab.index(nxt)])
        assert np.abs(z - full_logits(sc, tokens)).max() < 1e-12
        assert infos[0]["K"].shape == (len(tokens), 8) and infos[0]["q"].shape == (1, 8)


def test_temperature_towards_zero_is_greedy():
    sc = decoder({"max_new_tokens": 4, "temperature": 1e-6, "seed": 3})
    greedy = with_generation(sc, temperature=0.0)
    assert build_trace(sc).generated == build_trace(greedy).generated


@pytest.mark.parametrize("tau", [5e-324, 1e-320, 1e-300])
def test_a_temperature_near_zero_is_the_greedy_limit_not_nan(tau):
    z = np.array([4.0, 1.0, 2.5, 2.5 - 1e-12, 3.9])  # token 0 is <pad>: the best drawable one is token 4
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        zt = sampling.apply_temperature(z, tau, banned=(0,))
        keep = sampling.keep_mask(zt, 0, 1.0, banned=(0,))
        p, _ = sampling.softmax.forward(sampling.filter_logits(zt, keep))
    assert zt[4] == 0.0 and zt[0] > 0 and np.all(zt[1:4] < -1e299)
    assert p.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_temperature_shifts_by_the_max_and_changes_no_probability():
    z = np.array([0.5, 3.0, -1.0])
    zt = sampling.apply_temperature(z, 0.5)
    assert zt.tolist() == [-5.0, 0.0, -8.0]
    assert np.allclose(sampling.softmax.forward(zt)[0], sampling.softmax.forward(z / 0.5)[0], rtol=0, atol=1e-15)


def test_top_k_keeps_exactly_k():
    z = np.array([0.5, 3.0, -1.0, 2.0, 2.5, 0.0])
    for k in range(1, 6):
        keep = sampling.keep_mask(z, k, 1.0)
        assert keep.sum() == k and set(np.flatnonzero(keep)) == set(np.argsort(-z)[:k])
    keep = sampling.keep_mask(z, 2, 1.0, banned=(1,))
    assert set(np.flatnonzero(keep)) == {4, 3}


def test_top_p_keeps_the_smallest_set_reaching_p():
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert np.flatnonzero(sampling.keep_mask(z, 0, 0.5)).tolist() == [0]
    assert np.flatnonzero(sampling.keep_mask(z, 0, 0.75)).tolist() == [0, 1]
    assert np.flatnonzero(sampling.keep_mask(z, 0, 0.85)).tolist() == [0, 1, 2]


def test_seeded_sampling_is_stable_and_seed_dependent():
    runs = {seed: build_trace(decoder({"max_new_tokens": 8, "seed": seed})).generated for seed in (0, 0, 1, 2)}
    assert build_trace(decoder({"max_new_tokens": 8, "seed": 0})).generated == runs[0]
    assert len({tuple(v) for v in runs.values()}) > 1
    assert "<pad>" not in sum(runs.values(), [])


@pytest.mark.parametrize("gen", [{"max_new_tokens": 3}, {"max_new_tokens": 3, "temperature": 0.7, "top_k": 2},
                                 {"max_new_tokens": 3, "top_p": 0.6, "seed": 4}, {"max_new_tokens": 2, "greedy": True}])
def test_every_generation_step_verifies_against_a_cache_free_torch_recompute(gen):
    sc = decoder(gen)
    trace = build_trace(sc)
    checks = verify_trace(trace, torch_reference(sc, given=trace))
    steps = [s for s in trace.steps if s.phase == "generate"]
    assert steps and all(checks[s.id].ok for s in steps)
    assert len(trace.generated) == gen["max_new_tokens"]


def test_training_then_generating_verifies():
    sc = parse_scenario(yaml.safe_dump({
        "name": "tg", "model": {"kind": "decoder", "d_model": 8, "n_heads": 2, "d_ff": 16, "norm": "pre",
                                "final_norm": True, "tie_embeddings": True},
        "input": {"text": "abcabcabcabc", "tokenizer": "char"}, "task": {"kind": "next_token"},
        "optim": {"kind": "adam", "lr": 0.05, "steps": 40}, "generate": {"max_new_tokens": 6, "greedy": True}}))
    trace = build_trace(sc)
    checks = verify_trace(trace, torch_reference(sc, given=trace))
    assert all(c.ok for c in checks.values()), [step_id for step_id, c in checks.items() if not c.ok]
    assert trace.losses[-1] < 0.05 * trace.losses[0]
    assert trace.generated == list("abcabc")  # it learned the pattern, and generates with what it learned


def test_the_pipeline_list_does_not_repeat_a_token_heading_in_its_steps():
    from pathlib import Path

    from stepper.present.outline import outline
    from stepper.scenario import load_scenario

    trace = build_trace(load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "char_gpt.yaml"))
    rows = [(r.kind, r.text) for r in outline(trace)]
    at = rows.index(("group", "Token 2"))  # token 1 samples from the prefill's logits; later ones decode first
    assert rows[at + 1:at + 3] == [("step", "One new row vs the cache"), ("step", "Temperature")]
    assert not any(kind == "step" and text.startswith("Token ") and ":" in text for kind, text in rows)
    assert trace.steps[trace.index_of("gen.1.temperature")].title == "Token 1: temperature"  # headers keep it
