"""Generation with BatchNorm: decoding is evaluation, so every BatchNorm normalises with its running
statistics (torch's eval mode) — those training left, or torch's start (mean 0, variance 1) — never
with the statistics of the few rows decoded so far. The engine's caches and the cache-free reference
must agree on that, for a decoder and an encoder–decoder, trained or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from stepper.engine import build_trace
from stepper.engine.kv_cache import KVCache
from stepper.scenario import parse_scenario
from stepper.verify.compare import verify_trace
from stepper.verify.reference import torch_reference

DECODER = {"name": "bn_gen", "model": {"kind": "decoder", "d_model": 4, "n_heads": 2, "d_ff": 8, "norm": "pre",
                                       "final_norm": True, "norm_type": "batch"},
           "input": {"text": "abcabcabc", "tokenizer": "char"}, "task": {"kind": "next_token"},
           "weights": {"seed": 3, "init": {"std": 0.6}}, "generate": {"max_new_tokens": 4, "greedy": True}}
SEQ2SEQ = {"name": "bn_s2s", "model": {"kind": "seq2seq", "d_model": 4, "n_heads": 2, "d_ff": 8, "norm": "post",
                                       "final_norm": True, "norm_type": "batch"},
           "input": {"source": ["a", "b"], "target": ["<bos>", "x", "y", "<eos>"]}, "task": {"kind": "seq2seq"},
           "weights": {"seed": 4, "init": {"std": 0.6}}, "generate": {"max_new_tokens": 3, "greedy": True}}
TRAIN = {"optim": {"kind": "adam", "lr": 0.05, "steps": 5}}


@pytest.mark.parametrize("doc", [DECODER, SEQ2SEQ, DECODER | TRAIN, SEQ2SEQ | TRAIN],
                         ids=["decoder", "seq2seq", "decoder-trained", "seq2seq-trained"])
def test_decoding_with_batchnorm_verifies_against_the_cache_free_reference(doc):
    sc = parse_scenario(yaml.safe_dump(doc))
    trace = build_trace(sc)
    checks = verify_trace(trace, torch_reference(sc, given=trace))
    bad = [s.id for s in trace.steps if s.phase == "generate" and not checks[s.id].ok]
    assert not bad


def test_an_untrained_batchnorm_decodes_with_torchs_starting_statistics():
    """Mean 0, variance 1: x / √(1 + ε) · γ + β, whatever the rows are — torch's BatchNorm1d in eval mode."""
    sc = parse_scenario(yaml.safe_dump(DECODER))
    z, _ = KVCache(sc.model, sc.params, None).feed([sc.vocab.index("a")])
    m, p = sc.model, {k: torch.tensor(v) for k, v in sc.params.items()}
    d = m.d_model

    def bn(x, name):
        return F.batch_norm(x, torch.zeros(d, dtype=x.dtype), torch.ones(d, dtype=x.dtype), p[f"{name}.gamma"],
                            p[f"{name}.beta"], training=False, eps=m.norm_eps)

    x = p["embed.tok"][[sc.vocab.index("a")]]
    x = x + _sinusoidal_row0(d)
    h = bn(x, "layers.0.ln1")
    v = h @ p["layers.0.attn.W_V"] + p["layers.0.attn.b_V"]  # one row: attention returns its value
    x = x + v @ p["layers.0.attn.W_O"] + p["layers.0.attn.b_O"]
    f = bn(x, "layers.0.ln2") @ p["layers.0.ffn.W_1"] + p["layers.0.ffn.b_1"]
    x = x + F.relu(f) @ p["layers.0.ffn.W_2"] + p["layers.0.ffn.b_2"] if m.activation == "relu" else x + F.gelu(
        f) @ p["layers.0.ffn.W_2"] + p["layers.0.ffn.b_2"]
    logits = bn(x, "ln_f") @ p["head.W"] + p["head.b"]
    assert np.abs(z - logits[0].numpy()).max() < 1e-12


def _sinusoidal_row0(d: int) -> torch.Tensor:
    """Position 0 of the sine/cosine table: sin 0 = 0 on even features, cos 0 = 1 on odd ones."""
    row = torch.zeros(1, d, dtype=torch.float64)
    row[0, 1::2] = 1.0
    return row
