"""An encoder–decoder trained on a data set: the batched model, the trainer and its torch reference.

The batched seq2seq (stepper/engine/batched_seq2seq.py) against the one-example pass that is stepped
and verified (Seq2SeqPass) for a batch of one, and against torch.nn.Transformer itself for a padded
batch; the trainer end to end against a plain PyTorch loop over nn.Transformer (AdamW, clip_grad_norm_,
the `transformers` cosine schedule, shuffled epochs, a smaller last batch), and `stepper.verify`'s own
training reference against the trainer with dropout and BatchNorm.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fit_helpers import TOL, assert_same_run, plain_loop
from seq2seq_helpers import copy_into, model_params, nn_transformer, seq2seq_scenario

from stepper.engine import dropout
from stepper.engine.batched_seq2seq import BatchedSeq2Seq
from stepper.engine.batches import make_batch, traced_examples
from stepper.engine.run import loss_and_grads
from stepper.engine.trainer import fit
from stepper.scenario.types import DataConfig, Example, OptimConfig, ScheduleConfig
from stepper.verify.reference_fit import fit_reference
from stepper.verify.reference_transformer import sinusoidal
from stepper.verify.training_check import check_training

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # norm_first: torch's fast path is off

VOCAB = ["<pad>", "<bos>", "<eos>", "I", "you", "love", "eat", "pizza", "me", "te", "gusta", "como", "comes", "la", "amo"]
PAIRS = [  # (source, target): ragged on both sides, so every batch pads
    ("I love pizza", "<bos> me gusta la pizza <eos>"),
    ("I eat", "<bos> como <eos>"),
    ("you eat pizza", "<bos> comes la pizza <eos>"),
    ("I love you", "<bos> te amo <eos>"),
    ("you love pizza", "<bos> te gusta la pizza <eos>"),
]
HELD = [("you eat", "<bos> comes <eos>"), ("I eat pizza", "<bos> como la pizza <eos>")]


def examples(pairs) -> tuple[Example, ...]:
    return tuple(Example(tokens=tuple(t.split()), source=tuple(s.split())) for s, t in pairs)


def trained_scenario(optim: OptimConfig, batch_size=2, shuffle=True, seed=3, **model):
    data = DataConfig(examples=examples(PAIRS), validation=examples(HELD), batch_size=batch_size, shuffle=shuffle,
                      seed=seed)
    first = data.examples[0]
    return dataclasses.replace(seq2seq_scenario(first.source, first.tokens, VOCAB, seed=5, **model), optim=optim,
                               data=data)


# --- the batched model -------------------------------------------------------------------------------

OPTIONS = {
    "post": {},
    "pre-final": {"norm": "pre", "final_norm": True, "activation": "relu"},
    "tied-learned": {"tie_embeddings": True, "positional": "learned"},
    "batchnorm": {"norm_type": "batch", "n_dec_layers": 1},
    "none-nobias-unscaled": {"norm": "none", "bias": False, "head_bias": False, "attention_scale": False},
}


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
def test_a_batch_of_one_is_the_stepped_pass(options):
    sc = seq2seq_scenario(["I", "love", "pizza", "<pad>"], ["<bos>", "me", "encanta", "la", "pizza", "<eos>", "<pad>"],
                          **options)
    loss, grads = loss_and_grads(sc, sc.params)
    batched_loss, batched, _ = BatchedSeq2Seq(sc).loss_and_grads(sc.params, make_batch(sc, traced_examples(sc)))
    assert list(batched) == list(sc.params)
    assert batched_loss == pytest.approx(loss, rel=1e-13, abs=1e-13)
    for name in sc.params:
        np.testing.assert_allclose(batched[name], grads[name], rtol=1e-12, atol=1e-12, err_msg=name)


def nn_transformer_run(sc, params, sources, targets):
    """torch.nn.Transformer with `params` on one padded batch: (loss, every parameter's gradient by our name).
    Sources and the targets' inputs (target[:-1]) are right-padded with <pad>; the loss is F.cross_entropy
    over the flattened batch, <pad> ignored."""
    m, net = sc.model, nn_transformer(sc)
    pairs = list(model_params(net))
    copy_into(pairs, params)
    leaves = {k: torch.from_numpy(params[k].copy()).requires_grad_(True) for k in ("embed.tok", "embed.pos",
                                                                               "head.W", "head.b") if k in params}
    index, pad = {t: i for i, t in enumerate(sc.vocab)}, sc.vocab.index("<pad>")

    def rect(rows):
        width = max(map(len, rows))
        return torch.tensor([[index[t] for t in r] + [pad] * (width - len(r)) for r in rows])

    src, tgt, out = rect(sources), rect([t[:-1] for t in targets]), rect([t[1:] for t in targets])

    def embed(x):
        e = F.embedding(x, leaves["embed.tok"])
        if m.positional == "sinusoidal":
            return e + sinusoidal(x.shape[1], m.d_model)
        return e + leaves["embed.pos"][:x.shape[1]] if m.positional == "learned" else e

    t = tgt.shape[1]
    h = net(embed(src), embed(tgt), tgt_mask=torch.ones(t, t, dtype=torch.bool).triu(1),
            src_key_padding_mask=src == pad, tgt_key_padding_mask=tgt == pad, memory_key_padding_mask=src == pad)
    logits = h @ leaves["embed.tok"].T if m.tie_embeddings else h @ leaves["head.W"] + leaves.get("head.b", 0)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), out.reshape(-1), ignore_index=pad)
    loss.backward()
    grads = {name: (param.grad[rows].T if transposed else param.grad[rows]).numpy() for name, param, rows, transposed
             in pairs}
    return loss.item(), grads | {k: v.grad.numpy() for k, v in leaves.items()}


@pytest.mark.parametrize("options", [{}, {"norm": "pre", "final_norm": True, "activation": "gelu_tanh"},
                                     {"tie_embeddings": True, "positional": "learned", "n_layers": 1}],
                         ids=["post", "pre-final", "tied-learned"])
def test_a_padded_batch_is_nn_transformers(options):
    sc = seq2seq_scenario(vocab=VOCAB, d_model=8, d_ff=12, **options)
    rows = examples(PAIRS[:4])
    loss, grads, _ = BatchedSeq2Seq(sc).loss_and_grads(sc.params, make_batch(sc, rows))
    theirs_loss, theirs = nn_transformer_run(sc, sc.params, [e.source for e in rows], [e.tokens for e in rows])
    assert abs(loss - theirs_loss) <= TOL
    assert set(theirs) == set(sc.params)
    for name, g in theirs.items():
        np.testing.assert_allclose(grads[name], g, rtol=0, atol=TOL, err_msg=name)


def test_the_batch_loss_weighs_every_predicted_token_alike():
    """Padding changes nothing: the loss of a padded batch is its examples' summed token losses over their
    token count, each example's computed alone."""
    sc = seq2seq_scenario(vocab=VOCAB)
    model, rows = BatchedSeq2Seq(sc), examples(PAIRS[:3])
    together, _, _ = model.loss_and_grads(sc.params, make_batch(sc, rows))
    alone = [model.loss_and_grads(sc.params, make_batch(sc, [ex]))[0] for ex in rows]
    counts = [len(ex.tokens) - 1 for ex in rows]
    assert together == pytest.approx(np.dot(alone, counts) / sum(counts), abs=1e-14)


def test_a_seq2seqs_dropout_masks_are_drawn_per_stack_from_the_update_seed():
    sc = seq2seq_scenario(n_layers=2, n_dec_layers=1, dropout=0.5)
    masks = dropout.seq2seq_masks(0.5, 7, 3, sc.model, 2, 4, 5)
    rng = np.random.default_rng([7, 3])
    expected = [rng.random(shape) >= 0.5 for _ in range(2) for shape in ((2, 2, 4, 4), (2, 4, 4), (2, 4, 4))]
    expected += [rng.random(shape) >= 0.5 for shape in ((2, 2, 5, 5), (2, 5, 4), (2, 2, 5, 4), (2, 5, 4), (2, 5, 4))]
    drawn = [m for layer in masks.encoder for m in layer] + list(masks.decoder[0])
    assert len(drawn) == len(expected)
    for ours, theirs in zip(drawn, expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert dropout.seq2seq_masks(0.0, 7, 3, sc.model, 2, 4, 5) is None


# --- the trainer -----------------------------------------------------------------------------------------

def test_the_trainer_is_a_plain_loop_over_nn_transformer():
    transformers = pytest.importorskip("transformers")
    steps, lr, wd, clip, warmup = 7, 0.02, 0.05, 0.8, 2  # 3 batches an epoch (2, 2, 1): validation after 2, 5, 6
    sc = trained_scenario(OptimConfig(kind="adamw", lr=lr, steps=steps, weight_decay=wd, clip_grad_norm=clip,
                                      schedule=ScheduleConfig(kind="cosine", warmup=warmup)),
                          d_model=8, d_ff=12, norm="pre", final_norm=True)
    log = fit(sc)
    history = []
    ref = fit_reference(sc, on_update=lambda t, flat: history.append(flat.copy()))
    assert [len(b) for b in log.batches] == [2, 2, 1, 2, 2, 1, 2]
    assert log.val_after.tolist() == [2, 5, 6] and log.val_accuracy.size == 0

    net = nn_transformer(sc)
    pairs = list(model_params(net))
    copy_into(pairs, sc.params)
    leaves = {k: torch.nn.Parameter(torch.from_numpy(sc.params[k].copy())) for k in ("embed.tok", "head.W", "head.b")}
    parameters = list(net.parameters()) + list(leaves.values())
    opt = torch.optim.AdamW(parameters, lr=lr, weight_decay=wd)
    sched = transformers.get_cosine_schedule_with_warmup(opt, warmup, steps)
    train, held = sc.data.examples, sc.data.validation

    def loss_of(rows, among=train):
        index, pad = {t: i for i, t in enumerate(VOCAB)}, 0
        chosen = [among[int(r)] for r in rows]

        def rect(seqs):
            width = max(map(len, seqs))
            return torch.tensor([[index[t] for t in s] + [pad] * (width - len(s)) for s in seqs])

        src, tgt = rect([e.source for e in chosen]), rect([e.tokens[:-1] for e in chosen])
        out, t = rect([e.tokens[1:] for e in chosen]), tgt.shape[1]

        def embed(x):
            return F.embedding(x, leaves["embed.tok"]) + sinusoidal(x.shape[1], 8)

        h = net(embed(src), embed(tgt), tgt_mask=torch.ones(t, t, dtype=torch.bool).triu(1),
                src_key_padding_mask=src == pad, tgt_key_padding_mask=tgt == pad, memory_key_padding_mask=src == pad)
        logits = h @ leaves["head.W"] + leaves["head.b"]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), out.reshape(-1), ignore_index=pad)

    def validate():
        with torch.no_grad():
            return loss_of(range(len(held)), held).item(), None

    def flat():
        ours = {name: (p[rows].T if transposed else p[rows]) for name, p, rows, transposed in pairs} | leaves
        return np.concatenate([ours[n].detach().numpy().ravel() for n in sc.params])

    plan = [list(b) for b in log.batches]
    expected = [np.random.default_rng(3 + e).permutation(5)[j * 2:(j + 1) * 2] for e in range(3) for j in range(3)]
    assert plan == [list(b) for b in expected[:steps]]
    theirs = plain_loop(parameters, loss_of, plan, opt, sched, clip, validate, 3, flat)
    assert_same_run(ref, history, theirs)
    # the engine: every figure, and every parameter after every update (b_K aside: the loss does not depend on
    # it, so the engine holds its gradient at exactly 0, where the plain loop moves it by round-off alone)
    assert_same_run(log, list(log.param_history), theirs | {"history": [
        np.where(_key_bias_mask(sc), log.param_history[t], h) for t, h in enumerate(theirs["history"])]})
    drift = max(np.abs(log.param_history[t] - h)[_key_bias_mask(sc)].max() for t, h in enumerate(theirs["history"]))
    assert drift < 1e-6


def _key_bias_mask(sc) -> np.ndarray:
    return np.concatenate([np.full(np.size(v), name.endswith("attn.b_K")) for name, v in sc.params.items()])


CHECKED = {
    "dropout-momentum-linear": ({"dropout": 0.25, "norm": "pre", "final_norm": True},
                                OptimConfig(kind="momentum", lr=0.05, steps=5, clip_grad_norm=1.0,
                                            schedule=ScheduleConfig(kind="linear", warmup=1))),
    "batchnorm-adam": ({"norm_type": "batch", "n_dec_layers": 1, "tie_embeddings": True},
                       OptimConfig(kind="adam", lr=0.01, steps=6, weight_decay=0.01)),
    "batchnorm-dropout-sgd-learned": ({"norm_type": "batch", "dropout": 0.1, "positional": "learned"},
                                      OptimConfig(kind="sgd", lr=0.1, steps=4)),
}


@pytest.mark.parametrize("case", list(CHECKED))
def test_the_trainer_agrees_with_the_torch_reference_update_by_update(case):
    options, optim = CHECKED[case]
    sc = trained_scenario(optim, **options)
    log = fit(sc)
    checks = check_training(log, sc)
    assert all(c.ok for c in checks), [c.worst for c in checks if not c.ok]
    assert log.stopped_at is None and len(log.batch_losses) == optim.steps
    if sc.model.norm_type == "batch":  # every norm of both stacks keeps running statistics
        assert {"encoder.layers.0.ln1", "decoder.layers.0.ln3"} <= set(log.running)


def test_dropout_changes_a_seq2seqs_updates():
    base = trained_scenario(OptimConfig(kind="sgd", lr=0.1, steps=2))
    dropped = dataclasses.replace(base, model=dataclasses.replace(base.model, dropout=0.5))
    assert fit(base).batch_losses[0] != fit(dropped).batch_losses[0]



# --- the command line -------------------------------------------------------------------------------------

TRAINING_FILE = """\
name: s2s-train
model: {kind: seq2seq, d_model: 4, n_heads: 2, n_layers: 1, d_ff: 8, dropout: 0.1}
data:
  examples:
    - {source: [I, love, pizza], target: ["<bos>", me, gusta, la, pizza, "<eos>"]}
    - {source: [I, eat], target: ["<bos>", yo, como, "<eos>"]}
    - {source_text: "you eat pizza", target_text: "<bos> tu comes pizza <eos>"}
  validation:
    - {source: [you, love, pizza], target: ["<bos>", tu, pizza, "<eos>"]}
  batch_size: 2
optim: {kind: adamw, lr: 0.01, epochs: 2, clip_grad_norm: 1.0, schedule: {kind: linear, warmup: 1}}
"""


def test_stepper_check_verifies_every_update_of_a_seq2seq(tmp_path):
    from cli_training import stepper

    path = tmp_path / "s2s.yaml"
    path.write_text(TRAINING_FILE)
    r = stepper("check", path, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "training: 4 updates on 3 examples in batches of 2" in r.stdout
    assert "✓ 4 updates vs torch.optim" in r.stdout


def test_the_json_export_of_a_trained_seq2seq(tmp_path):
    from cli_training import export_json

    path = tmp_path / "s2s.yaml"
    path.write_text(TRAINING_FILE)
    doc = export_json(path)
    training = doc["training"]
    assert len(training["batch_losses"]) == len(training["lr"]) == len(training["grad_norm"]) == 4
    assert training["lr"][0] == 0.0 and training["val_after"] == [1, 3] and training["val_accuracy"] == []
    assert training["batches"] == [[0, 1], [2], [0, 1], [2]] and training["check"]["ok"]
    assert set(doc["trained_params"]) == set(doc["params"])
    assert "decoder.layers.0.cross_attn.W_Q" in doc["trained_params"]
    moved = np.asarray(doc["trained_params"]["decoder.layers.0.cross_attn.W_Q"])
    assert moved.shape == (4, 4) and not np.array_equal(moved, doc["params"]["decoder.layers.0.cross_attn.W_Q"])


def test_the_trained_seq2seq_feeds_diff_markdown_and_yaml(tmp_path):
    """The trained weights run the traced pair again: `diff --trained` pairs its steps, the markdown's "What
    training did" sets the trained cross-attention beside the untrained and summarises both stacks, and the yaml export is a seq2seq
    scenario whose pass is the trained one."""
    from cli_training import export_json, stepper

    path = tmp_path / "s2s.yaml"
    path.write_text(TRAINING_FILE)
    r = stepper("diff", path, "--trained", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fwd.dec.L0.cross.h0.softmax" in r.stdout
    r = stepper("export", path, "--format", "md", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "## What training did" in r.stdout
    # each attention's map is named by its stack and kind, as the heads view names it
    assert "**Cross-attention head 1 of decoder layer 0** (`fwd.dec.L0.cross.h1.softmax`)" in r.stdout
    assert "**Head 0 of encoder layer 0** (`fwd.enc.L0.attn.h0.softmax`)" in r.stdout
    # the per-head and per-layer summaries cover both stacks, each attention under its own heading
    heads = r.stdout.index("### Where each head looks")
    assert heads < r.stdout.index("#### Encoder self-attention") < r.stdout.index("#### Decoder self-attention") \
        < r.stdout.index("#### Cross-attention")
    assert "### How far each layer moves" in r.stdout
    r = stepper("export", path, "--format", "yaml", "-o", tmp_path / "trained.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    trained, before = export_json(tmp_path / "trained.yaml"), export_json(path)
    assert trained["config"]["source"] == ["I", "love", "pizza"]
    for name, value in before["trained_params"].items():
        np.testing.assert_array_equal(trained["params"][name], value, err_msg=name)


async def test_t_in_the_app_shows_the_trained_cross_attention():
    from pathlib import Path

    from stepper.engine import build_trace
    from stepper.scenario import load_scenario
    from stepper.tui.app import StepperApp
    from tests.tui_helpers import main_screen, screen_text, wait_for

    step = "fwd.dec.L0.cross.softmax"
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "word_order_train.yaml")
    app = StepperApp(scenario, build_trace(scenario), verify=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.after is not None, what="the trace after training")
        screen.go_to(screen.trace.index_of(step))
        await pilot.pause()
        await pilot.press("t")
        assert screen.role == "trained" and screen.trace.steps[screen.index].id == step
        a = screen.trace.steps[screen.index].outputs["A"].value  # rows <bos>, coche, verde; columns green, car
        assert a[0, 1] > 0.99 and a[1, 0] > 0.99
        assert "after training (t)" in screen_text(app)


def test_a_seq2seq_that_overflows_names_the_update_the_pair_and_the_step():
    from stepper.engine import build_trace
    from stepper.engine.divergence import example_scenario

    sc = trained_scenario(OptimConfig(kind="sgd", lr=1e3, steps=8), norm="none", shuffle=False)
    pair = example_scenario(sc, sc.data.examples[4])  # the pair's own source and target are traced
    assert (pair.source_tokens, pair.tokens) == (["you", "love", "pizza"], "<bos> te gusta la pizza <eos>".split())
    trace = build_trace(sc)
    assert trace.training.stopped_at == 2 and trace.diverged.update == 2
    assert trace.diverged.example == 4 and trace.diverged.step_id.startswith("fwd.enc.L0.")
