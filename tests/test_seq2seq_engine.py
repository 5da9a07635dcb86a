"""The encoder–decoder's engine, stage by stage against torch (tests/stage_check.py), and the shape of its
trace: step ids, labels, masks, and the two sums (the memory's gradient, the shared table's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from seq2seq_helpers import SOURCE, VOCAB, copy_into, grads_of, layer_params, seq2seq_scenario
from stage_check import assert_close, check_stage

from stepper.engine import attention, build_trace, mask
from stepper.engine.decoder_layer import DecoderInputs, decoder_layer_forward
from stepper.engine.layer import LayerNorms, layer_backward
from stepper.engine.record import Labels, Recorder
from stepper.engine.recorded import Keyed
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace_keys import decoder_layer

TARGET_IN = ["<bos>", "me", "encanta", "la", "pizza"]  # what the decoder reads: target[:-1]
SOURCE_PAD = ["I", "love", "<pad>"]
D, H, FF = 4, 2, 6


def writers(params: dict, rec: Recorder | None = None) -> tuple[StepWriter, StepWriter]:
    """The decoder's writer (rows: target tokens) and the memory's (rows: source tokens)."""
    w = StepWriter(rec, Labels(TARGET_IN, VOCAB, [], D, FF, H), params, VOCAB)
    return w, w.for_tokens(SOURCE_PAD)


def cross_params(rng) -> dict[str, np.ndarray]:
    return {f"x.W_{n}": rng.normal(size=(D, D)) for n in "QKVO"} | {f"x.b_{n}": rng.normal(size=D) for n in "QKVO"}


def test_cross_attention_is_torch_sdpa_with_the_source_pad_key_masked():
    """Queries from the decoder [T_t, D], keys and values from the memory [T_s, D], T_t ≠ T_s: the output
    is torch's scaled_dot_product_attention's; the memory's gradient is its K part plus its V part."""
    params = cross_params(np.random.default_rng(0))
    keys = attention.AttentionKeys(params="x", at="dec.L0.cross")
    src_pad = np.array([t == "<pad>" for t in SOURCE_PAD])
    ok = mask.allowed(src_pad, causal=False, n_queries=len(TARGET_IN))  # [T_t, T_s]
    assert ok.shape == (5, 3) and not ok[:, 2].any() and ok[:, :2].all()
    w, w_mem = writers(params)
    m = ModelConfig(kind="seq2seq", d_model=D, n_heads=H, d_ff=FF)

    def forward(dec, mem):
        out, c = attention.forward(w, keys, Keyed(dec, "dec"), Keyed(mem, "mem"), ok, m, layer=0, mask_name="x",
                                   w_kv=w_mem)
        return out.value, c

    def backward(d_out, c):
        q, k, v = attention.backward(w, d_out, c, {}, shared=False)
        assert (q.key, k.key, v.key) == ("d:dec", "d:mem<-dec.L0.cross.K", "d:mem<-dec.L0.cross.V")
        return q.value, k.value + v.value

    def torch_fn(dec, mem):
        p = {k: torch.tensor(v) for k, v in params.items()}
        split = lambda x: x.reshape(x.shape[0], H, D // H).transpose(0, 1)  # noqa: E731
        q, k, v = (split(x @ p[f"x.W_{n}"] + p[f"x.b_{n}"]) for x, n in ((dec, "Q"), (mem, "K"), (mem, "V")))
        z = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(ok))  # True: may attend
        return z.transpose(0, 1).reshape(len(TARGET_IN), D) @ p["x.W_O"] + p["x.b_O"]

    check_stage([(5, D), (3, D)], forward, backward, torch_fn)


def test_cross_attention_steps_label_target_rows_and_source_columns():
    params = cross_params(np.random.default_rng(1))
    rec = Recorder()
    w, w_mem = writers(params, rec)
    ok = mask.allowed(np.array([False, False, True]), causal=False, n_queries=5)
    m = ModelConfig(kind="seq2seq", d_model=D, n_heads=H, d_ff=FF)
    rng = np.random.default_rng(2)
    attention.forward(w, attention.AttentionKeys(params="x", at="dec.L0.cross"), Keyed(rng.normal(size=(5, D)), "d"),
                      Keyed(rng.normal(size=(3, D)), "m"), ok, m, layer=0, mask_name="<pad> keys (source)", w_kv=w_mem)
    steps = {s.id: s for s in rec.steps}
    scores = steps["fwd.dec.L0.cross.h0.scores"].outputs["S"]
    assert scores.value.shape == (5, 3) and scores.rows == TARGET_IN and scores.cols == SOURCE_PAD
    assert steps["fwd.dec.L0.cross.h0.scores"].inputs["K"].rows == SOURCE_PAD
    assert steps["fwd.dec.L0.cross.k"].inputs["X"].rows == SOURCE_PAD
    assert steps["fwd.dec.L0.cross.q"].inputs["X"].rows == TARGET_IN
    masked = steps["fwd.dec.L0.cross.h1.mask"]
    assert masked.bindings["mask"] == "<pad> keys (source)"
    assert np.isneginf(masked.inputs["M"].value[:, 2]).all() and (masked.inputs["M"].value[:, :2] == 0).all()


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_decoder_layer_is_nn_transformer_decoder_layer(norm):
    """One decoder layer as a stage: (its input, the memory) → its output, and both gradients; the memory's
    gradient is the sum of the cross-attention's K and V parts the layer hands back."""
    rng = np.random.default_rng(3)
    m = ModelConfig(kind="seq2seq", d_model=D, n_heads=H, d_ff=FF, norm=norm, activation="gelu", n_dec_layers=1)
    params = {k: v for k, v in seq2seq_scenario(seed=4, d_model=D, n_heads=H, d_ff=FF, norm=norm).params.items()
              if k.startswith("decoder.layers.0.")}
    w, w_mem = writers(params)
    norms = LayerNorms(norm, m.norm_eps, D)
    tgt_pad = np.zeros(5, bool)
    src_pad = np.array([False, False, True])
    ok_self, ok_cross = mask.allowed(tgt_pad, causal=True), mask.allowed(src_pad, causal=False, n_queries=5)

    def forward(x, mem):
        inputs = DecoderInputs(Keyed(mem, "mem"), w_mem, ok_self, ok_cross, "causal", "<pad> keys (source)")
        out, c = decoder_layer_forward(w, norms, decoder_layer(0), Keyed(x, "x"), inputs, m)
        return out.value, (c, inputs)

    def backward(d_out, cache):
        c, inputs = cache
        dx = layer_backward(w, norms, d_out, c, {})
        assert [p.key for p in inputs.memory_paths] == ["d:mem<-dec.L0.cross.K", "d:mem<-dec.L0.cross.V"]
        return dx, sum(p.value for p in inputs.memory_paths)

    layer = torch.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, activation="gelu", batch_first=True,
                                             norm_first=norm == "pre", dtype=torch.float64)
    pairs = list(layer_params("decoder.layers.0", layer, {"self_attn": "self_attn", "cross_attn": "multihead_attn"}, 3))
    copy_into(pairs, params)

    def torch_fn(x, mem):
        return layer(x[None], mem[None], tgt_mask=torch.ones(5, 5, dtype=torch.bool).triu(1),
                     memory_key_padding_mask=torch.tensor(src_pad)[None])[0]

    check_stage([(5, D), (3, D)], forward, backward, torch_fn, seed=int(rng.integers(100)), tol=1e-11)
    # the layer's parameter gradients are nn's too (the engine's, from a second pass with the same upstream)
    inputs = [np.random.default_rng(0).normal(size=s) for s in ((5, D), (3, D))]
    out, cache = forward(*inputs)
    grads: dict[str, np.ndarray] = {}
    layer.zero_grad()
    layer(*(torch.tensor(a)[None] for a in inputs), tgt_mask=torch.ones(5, 5, dtype=torch.bool).triu(1),
          memory_key_padding_mask=torch.tensor(src_pad)[None]).sum().backward()
    layer_backward(w, norms, np.ones_like(out), cache[0], grads)
    for name, g in grads_of(pairs).items():
        assert_close(grads[name], g, name, 1e-11)


def test_the_trace_of_a_seq2seq_pass():
    sc = seq2seq_scenario(source=SOURCE + ["<pad>"], tie_embeddings=True, positional="learned", final_norm=True)
    trace = build_trace(sc)
    steps = {s.id: s for s in trace.steps}
    ids = list(steps)
    # the encoder's steps, then the decoder's, then the head; backward the other way round
    first = {stack: ids.index(next(i for i in ids if i.startswith(f"fwd.{stack}."))) for stack in ("enc", "dec")}
    assert first["enc"] < first["dec"] < ids.index("fwd.head") < ids.index("bwd.dec.L1.res3.merge")
    assert ids.index("bwd.enc.memory.merge") < ids.index("bwd.enc.L1.res2.merge") < ids.index("bwd.embed.merge")
    assert steps["fwd.enc.L0.attn.q"].title == "Encoder: Q projection"
    assert steps["fwd.dec.L1.cross.h0.scores"].title == "Decoder cross-attention: Scores Q·Kᵀ"
    assert steps["fwd.dec.L0.self.h1.softmax"].title == "Decoder self-attention: Softmax over each row"
    assert steps["fwd.dec.L0.res2"].title == "Decoder: Residual: x + cross-attention"
    # which mask applies where: the encoder's and the cross-attention's source <pad>, the decoder's causal mask
    assert steps["fwd.enc.L0.attn.h0.mask"].bindings["mask"] == "<pad> keys (source)"
    assert steps["fwd.dec.L0.cross.h0.mask"].bindings["mask"] == "<pad> keys (source)"
    assert steps["fwd.dec.L0.self.h0.mask"].bindings["mask"] == "causal"
    # the memory's gradient: every decoder layer's K and V parts, in layer order
    memory = steps["bwd.enc.memory.merge"]
    assert [t.key for t in memory.inputs.values()] == [f"d:enc.ln_f<-dec.L{i}.cross.{m}" for i in (0, 1) for m in "KV"]
    assert memory.outputs["dX"].key == "d:enc.ln_f" and memory.outputs["dX"].rows == SOURCE + ["<pad>"]
    # the table's: the tied head, the source lookup and the target lookup
    table = steps["bwd.embed.merge"]
    assert [t.key for t in table.inputs.values()] == ["d:embed.tok<-logits", "d:embed.tok<-enc.tok_emb",
                                                     "d:embed.tok<-dec.tok_emb"]
    assert np.array_equal(table.outputs["dW_tok"].value, trace.grads["embed.tok"])
    assert [t.key for t in steps["bwd.pos.merge"].inputs.values()] == ["d:embed.pos<-enc.pos", "d:embed.pos<-dec.pos"]
    assert trace.logits.shape == (len(sc.tokens) - 1, len(VOCAB))


def test_the_loss_skips_pad_targets():
    """Mean cross-entropy over the non-<pad> predicted positions: a trailing <pad> changes nothing."""
    plain = build_trace(seq2seq_scenario(seed=5))
    padded = build_trace(seq2seq_scenario(target=["<bos>", "me", "encanta", "la", "pizza", "<eos>", "<pad>"], seed=5))
    assert abs(plain.loss - padded.loss) < 1e-12
    assert padded.steps[[s.id for s in padded.steps].index("fwd.loss")].bindings["N"] == "5"


def test_every_forward_key_names_its_stack():
    """docs/trace-keys.md: an encoder–decoder's quantities live under `enc.` or `dec.`, but for the head's."""
    trace = build_trace(seq2seq_scenario(final_norm=True))
    keys = {t.key for s in trace.steps if s.phase == "forward" for t in s.outputs.values() if t.key}
    assert {k for k in keys if not k.startswith(("enc.", "dec."))} == {"logits", "probs", "loss", "perplexity"}
    doc = (Path(__file__).resolve().parent.parent / "docs" / "trace-keys.md").read_text()
    assert all(f"`{step}`" in doc for step in ("bwd.enc.memory.merge", "bwd.embed.merge", "bwd.pos.merge"))
