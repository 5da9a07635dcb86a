"""The encoder–decoder against torch.nn.Transformer itself, end to end: our weights copied into
nn.Transformer (nn.MultiheadAttention keeps Q, K, V stacked in one [3D, D] out×in `in_proj_weight`;
ours are [in, out]), the same embeddings fed in, and the loss, the logits and every parameter
gradient compared to 1e-9. nn.Transformer ends each stack with its own LayerNorm (`final_norm: true`);
without them, the same layers go in as custom_encoder / custom_decoder with no final norm.

Also: `stepper.verify.entry.checked` (every step against the independent reference) passes on a
sweep of the model's options."""

from __future__ import annotations

import numpy as np
import pytest
from seq2seq_helpers import VOCAB, seq2seq_scenario, torch_run

from stepper.engine import build_trace
from stepper.verify.entry import checked

TOL = 1e-9
SOURCE_PADDED = ["I", "love", "pizza", "<pad>"]
TARGET_PADDED = ["<bos>", "me", "encanta", "la", "pizza", "<eos>", "<pad>"]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # norm_first: torch's fast path is off
@pytest.mark.parametrize("options", [
    {"norm": "post", "final_norm": True, "activation": "relu"},
    {"norm": "pre", "final_norm": True, "activation": "gelu"},
    {"norm": "post", "final_norm": False, "positional": "learned", "tie_embeddings": True},
    {"norm": "pre", "final_norm": False, "activation": "gelu_tanh", "n_layers": 3, "n_dec_layers": 1},
], ids=["post-final", "pre-final", "post-tied-learned", "pre-3+1"])
def test_matches_nn_transformer(options):
    sc = seq2seq_scenario(SOURCE_PADDED, TARGET_PADDED, d_model=8, n_heads=2, d_ff=12, seed=3, **options)
    trace = build_trace(sc)
    loss, logits, grads = torch_run(sc)
    assert abs(trace.loss - loss) <= TOL
    assert trace.logits.shape == (len(TARGET_PADDED) - 1, len(VOCAB))
    assert np.max(np.abs(trace.logits - logits)) <= TOL
    assert set(trace.grads) == set(grads) == set(sc.params)
    for name, g in grads.items():
        assert np.max(np.abs(trace.grads[name] - g)) <= TOL, name


@pytest.mark.parametrize("options", [
    {},
    {"norm": "pre", "final_norm": True},
    {"norm": "none", "bias": False, "head_bias": False},
    {"tie_embeddings": True, "positional": "learned", "final_norm": True},
    {"positional": "none", "n_heads": 1, "n_dec_layers": 1, "activation": "relu"},
    {"attention_scale": False, "n_layers": 1, "n_dec_layers": 3},
], ids=["post", "pre-final", "none-nobias", "tied-learned", "nopos-1head", "unscaled"])
@pytest.mark.parametrize("padded", [False, True], ids=["plain", "padded"])
def test_every_step_checks_against_the_reference(options, padded):
    sc = seq2seq_scenario(*((SOURCE_PADDED, TARGET_PADDED) if padded else ()), **options)
    trace, verdicts = checked(sc)
    failing = {k: (c.max_abs_err, c.worst) for k, c in verdicts.items() if not c.ok or not c.compared}
    assert failing == {} and verdicts.totals.ok
    ids = [s.id for s in trace.steps]
    assert "bwd.enc.memory.merge" in ids and "bwd.embed.merge" in ids
    assert ("bwd.pos.merge" in ids) == (options.get("positional") == "learned")
