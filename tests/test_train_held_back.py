"""Training through the command line, held to other people's training loops.

Each scenario file is written from the data/optim keys alone; `stepper export FILE --format json` runs as a
subprocess on this checkout; the starting weights are read from the JSON's `params` and copied into
torch.nn.TransformerEncoder, HF GPT-2 or an nn.Sequential mlp, trained by a plain loop with torch.optim,
clip_grad_norm_ and the `transformers` schedule functions. Every batch loss, learning rate, gradient norm,
validation figure and trained parameter must agree to 1e-9.

b_K: the loss does not depend on an attention's key bias (softmax is shift-invariant per row), so its exact
gradient is 0. stepper trains it with exactly 0; the plain loop gets round-off (~1e-17), which Adam divides
by ε. Where that drift stays small (AdamW, SGD, momentum, Adam without weight decay), b_K is compared with
1e-9 plus a bound on it computed from the loop's own round-off (cli_training.roundoff_drift). Adam with L2
weight decay feeds the drift back (its gradient becomes wd·b_K, again divided by ε) until b_K swings by about
lr — 2e-3 after 3 updates here — so there the loop zeroes b_K's gradient, as the exact arithmetic does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from cli_training import (
    assert_figures,
    assert_trained,
    export_json,
    optimizer,
    padded,
    plan,
    roundoff_drift,
    scheduler,
    train,
    validation_points,
)
from third_party_nets import Encoder, gpt2, mlp

pytest.importorskip("transformers")

WORDS = ["a", "b", "c", "d", "e", "f", "g"]


def sentences(rng, n: int, low: int, high: int) -> list[list[str]]:
    return [[str(w) for w in rng.choice(WORDS, size=int(rng.integers(low, high + 1)))] for _ in range(n)]


def written(rows: list[list[str]], labels=None) -> list[dict]:
    """Examples as a file writes them: every other one as `text`, the rest as `tokens`."""
    out = []
    for i, r in enumerate(rows):
        ex = {"text": " ".join(r)} if i % 2 else {"tokens": list(r)}
        if labels is not None:
            ex["label"] = labels[i]
        out.append(ex)
    return out


def run(tmp_path, doc: dict) -> dict:
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return export_json(path)


def total_updates(optim: dict, n: int, batch: int) -> int:
    return optim["steps"] if "steps" in optim else optim["epochs"] * -(-n // batch)


def schedule_of(optim: dict):
    s = optim.get("schedule", {})
    return s.get("kind", "constant"), s.get("warmup", 0)


def unstable(optim: dict) -> bool:
    """Adam's L2 weight decay turns b_K's round-off into steps of about lr (see the module's note)."""
    return optim["kind"] == "adam" and optim.get("weight_decay", 0.0) > 0


def b_K_drift(out: dict, optim: dict, n_layers: int) -> dict:
    if unstable(optim):  # the loop zeroed b_K's gradient: no drift to allow for
        return {}
    drift = roundoff_drift(optim["kind"], out["lr"], out["watched"], momentum=optim.get("momentum", 0.9))
    return {f"layers.{i}.attn.b_K": drift for i in range(n_layers)}


# --- torch.nn.TransformerEncoder: classify ----------------------------------------------------------------

ENCODERS = {
    "post-mean-adamw-linear-epochs": (
        {"norm": "post", "activation": "relu", "final_norm": False, "positional": "learned", "pooling": "mean"},
        {"kind": "adamw", "lr": 0.05, "weight_decay": 0.05, "clip_grad_norm": 0.5,
         "schedule": {"kind": "linear", "warmup": 2}, "epochs": 3},
        {"batch_size": 3, "shuffle": True, "seed": 5}, True),
    "pre-first-adam-cosine-steps": (
        {"norm": "pre", "activation": "gelu", "final_norm": True, "positional": "sinusoidal", "pooling": "first"},
        {"kind": "adam", "lr": 0.02, "weight_decay": 0.01, "clip_grad_norm": 1.0,
         "schedule": {"kind": "cosine", "warmup": 3}, "steps": 7},
        {"batch_size": 2, "shuffle": True, "seed": 1}, False),
    "pre-last-sgd-constant-one-batch": (
        {"norm": "pre", "activation": "relu", "final_norm": False, "positional": "learned", "pooling": "last"},
        {"kind": "sgd", "lr": 0.1, "weight_decay": 0.02, "schedule": {"kind": "constant", "warmup": 2},
         "epochs": 2},
        {}, True),
    "post-mean-batchnorm-momentum": (
        {"norm": "post", "activation": "gelu", "final_norm": True, "positional": "learned", "pooling": "mean",
         "norm_type": "batch"},
        {"kind": "momentum", "lr": 0.05, "momentum": 0.8, "clip_grad_norm": 2.0, "epochs": 3},
        {"batch_size": 3, "shuffle": True, "seed": 2}, False),
}
CLASSES = ["neg", "pos", "meh"]


def encoder_file(case: str, seed: int = 7) -> tuple[dict, dict]:
    model, optim, data, vocab_given = ENCODERS[case]
    rng = np.random.default_rng(seed)
    train_rows, held_rows = sentences(rng, 7, 2, 5), sentences(rng, 3, 2, 6)
    labels, held_labels = [str(c) for c in rng.choice(CLASSES, 7)], [str(c) for c in rng.choice(CLASSES, 3)]
    head = np.round(rng.normal(size=(8, 3)), 3).tolist()
    doc = {"name": case, "model": {"kind": "encoder", "d_model": 8, "n_heads": 2, "n_layers": 2, "d_ff": 16,
                                   "max_len": 8, **model, "dropout": 0},
           "task": {"kind": "classify", "classes": CLASSES},
           "data": {"examples": written(train_rows, labels), "validation": written(held_rows, held_labels),
                    **data},
           "weights": {"seed": 3, "init": {"std": 0.4}, "values": {"head.W": head}},
           "optim": optim}
    if vocab_given:  # the traced example given as `input`, with the vocab in the file's own order
        doc["input"] = {"vocab": ["<pad>", *reversed(WORDS)], "tokens": held_rows[0]}
        doc["task"]["label"] = held_labels[0]
    return doc, {"train": (train_rows, labels), "held": (held_rows, held_labels), "head": head}


@pytest.mark.parametrize("case", list(ENCODERS))
def test_encoder_cli_training_equals_torch_transformer_encoder(tmp_path, case):
    doc, ex = encoder_file(case)
    out = run(tmp_path, doc)
    vocab, cfg = out["config"]["vocab"], out["config"]["model"]
    if "input" not in doc:
        assert vocab == ["<pad>", *sorted({w for r in ex["train"][0] + ex["held"][0] for w in r})]
    assert out["params"]["head.W"] == ex["head"], "params are the weights before training, as written"
    idx = {w: i for i, w in enumerate(vocab)}
    net = Encoder(out["params"], cfg, pad=idx["<pad>"])

    (rows, labels), (held, held_labels) = ex["train"], ex["held"]
    x = [[idx[w] for w in r] for r in rows]
    y = torch.tensor([CLASSES.index(c) for c in labels])
    vx, vy = padded([[idx[w] for w in r] for r in held], idx["<pad>"]), torch.tensor(
        [CLASSES.index(c) for c in held_labels])
    n, optim = len(rows), doc["optim"]
    batch = doc["data"].get("batch_size", n)
    updates = total_updates(optim, n, batch)
    batches = plan(n, batch, updates, doc["data"].get("shuffle", False), doc["data"].get("seed", 0))
    assert out["training"]["batches"] == batches

    def loss_of(b):
        return F.cross_entropy(net(padded([x[i] for i in b], idx["<pad>"])), y[b])

    def validate():
        net.eval()  # BatchNorm's running statistics; grad stays on so the encoder's fast path stays off
        logits = net(vx)
        net.train()
        return F.cross_entropy(logits, vy).item(), (logits.argmax(-1) == vy).double().mean().item()

    opt = optimizer(optim["kind"], net.parameters(), optim["lr"], optim.get("weight_decay", 0.0),
                    optim.get("momentum", 0.9))
    sched = scheduler(opt, *schedule_of(optim), updates)
    theirs = train(list(net.parameters()), loss_of, batches, opt, sched, optim.get("clip_grad_norm"), validate,
                   validation_points(n, batch, updates),
                   watch=lambda: net.b_K_grad(zero=unstable(optim)))
    assert_figures(out["training"], theirs)
    assert_trained(out["trained_params"], net.named(), b_K_drift(theirs, optim, cfg["n_layers"]))
    if cfg.get("norm_type") == "batch":
        norms = {f"layers.{i}.ln{k}": getattr(lay, f"norm{k}").bn for i, lay in enumerate(net.enc.layers)
                 for k in (1, 2)} | {"ln_f": net.enc.norm.bn}
        for name, bn in norms.items():
            np.testing.assert_allclose(out["running_mean"][name], bn.running_mean.numpy(), rtol=0, atol=1e-9)
            np.testing.assert_allclose(out["running_var"][name], bn.running_var.numpy(), rtol=0, atol=1e-9)


# --- HF GPT-2: next_token, right padding -------------------------------------------------------------------

GPT2_CASES = {
    "adamw-cosine-epochs": ({"kind": "adamw", "lr": 0.03, "clip_grad_norm": 1.0,
                             "schedule": {"kind": "cosine", "warmup": 2}, "epochs": 2},
                            {"batch_size": 4, "shuffle": True, "seed": 2}),
    "momentum-linear-steps": ({"kind": "momentum", "lr": 0.05, "momentum": 0.8, "weight_decay": 0.01,
                               "schedule": {"kind": "linear", "warmup": 1}, "steps": 5},
                              {"batch_size": 4}),
    "adam-constant-clip": ({"kind": "adam", "lr": 0.01, "weight_decay": 0.001, "clip_grad_norm": 0.1,
                            "steps": 4}, {"batch_size": 3, "shuffle": True, "seed": 9}),
}


@pytest.mark.parametrize("case", list(GPT2_CASES))
def test_decoder_cli_training_equals_hf_gpt2(tmp_path, case):
    optim, data = GPT2_CASES[case]
    rng = np.random.default_rng(11)
    rows, held = sentences(rng, 6, 3, 7), sentences(rng, 2, 3, 8)
    doc = {"name": f"gpt2-{case}",
           "model": {"kind": "decoder", "d_model": 8, "n_heads": 2, "n_layers": 2, "d_ff": 16,
                     "activation": "gelu_tanh", "norm": "pre", "final_norm": True, "positional": "learned",
                     "max_len": 8, "tie_embeddings": True, "dropout": 0},
           "task": {"kind": "next_token"},
           "data": {"examples": written(rows), "validation": written(held), **data},
           "weights": {"seed": 4, "init": {"std": 0.3}}, "optim": optim}
    out = run(tmp_path, doc)
    vocab, cfg = out["config"]["vocab"], out["config"]["model"]
    idx = {w: i for i, w in enumerate(vocab)}
    pad = idx["<pad>"]
    net, named, b_K_grad = gpt2(out["params"], cfg, len(vocab))
    seq = [[idx[w] for w in r] for r in rows]

    def lm_loss(examples):
        # each example split into input [:-1] and targets [1:], then right-padded; pad targets ignored
        xb = padded([s[:-1] for s in examples], pad)
        yb = padded([s[1:] for s in examples], -100)
        logits = net(input_ids=xb, attention_mask=(xb != pad).long()).logits
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), ignore_index=-100)

    def validate():
        net.eval()
        with torch.no_grad():
            loss = lm_loss([[idx[w] for w in r] for r in held]).item()
        net.train()
        return loss, None

    n, batch = len(rows), data["batch_size"]
    updates = total_updates(optim, n, batch)
    batches = plan(n, batch, updates, data.get("shuffle", False), data.get("seed", 0))
    assert out["training"]["batches"] == batches
    wd = optim.get("weight_decay", 0.01 if optim["kind"] == "adamw" else 0.0)  # AdamW's default, as torch's
    opt = optimizer(optim["kind"], net.parameters(), optim["lr"], wd, optim.get("momentum", 0.9))
    sched = scheduler(opt, *schedule_of(optim), updates)
    theirs = train(list(net.parameters()), lambda b: lm_loss([seq[i] for i in b]), batches, opt, sched,
                   optim.get("clip_grad_norm"), validate, validation_points(n, batch, updates),
                   watch=lambda: b_K_grad(zero=unstable(optim)))
    assert_figures(out["training"], theirs)
    assert out["training"]["val_accuracy"] == []
    assert_trained(out["trained_params"], named(), b_K_drift(theirs, optim, cfg["n_layers"]))


# --- nn.Sequential: an mlp on features ---------------------------------------------------------------------

MLPS = {
    "regress-adamw-cosine": ([3, 5, 2], "gelu", "regress",
                             {"kind": "adamw", "lr": 0.05, "clip_grad_norm": 0.3,
                              "schedule": {"kind": "cosine", "warmup": 1}, "epochs": 3},
                             {"batch_size": 3, "shuffle": True, "seed": 4}),
    "classify-momentum-linear": ([2, 6, 3], "relu", "classify",
                                 {"kind": "momentum", "lr": 0.1, "weight_decay": 0.001,
                                  "schedule": {"kind": "linear", "warmup": 0}, "steps": 5},
                                 {"batch_size": 2}),
}


@pytest.mark.parametrize("case", list(MLPS))
def test_mlp_cli_training_equals_torch_sequential(tmp_path, case):
    sizes, act, task, optim, data = MLPS[case]
    rng = np.random.default_rng(5)
    feats = np.round(rng.normal(size=(10, sizes[0])), 3)
    if task == "regress":
        ys = np.round(rng.normal(size=(10, sizes[-1])), 3)
        examples = [{"features": f.tolist(), "target": t.tolist()} for f, t in zip(feats, ys, strict=True)]
    else:
        ys = [str(c) for c in rng.choice(CLASSES, 10)]
        examples = [{"features": f.tolist(), "label": c} for f, c in zip(feats, ys, strict=True)]
    doc = {"name": f"mlp-{case}", "model": {"kind": "mlp", "sizes": sizes, "activation": act},
           "task": {"kind": task, **({"classes": CLASSES} if task == "classify" else {})},
           "data": {"examples": examples[:7], "validation": examples[7:], **data},
           "weights": {"seed": 1, "init": {"std": 0.5}}, "optim": optim}
    out = run(tmp_path, doc)
    net, named = mlp(out["params"], sizes, act)
    x = torch.tensor(feats)
    y = torch.tensor(ys) if task == "regress" else torch.tensor([CLASSES.index(c) for c in ys])

    def loss_of(b, logits=None):
        b = torch.as_tensor(b)
        pred = net(x[b])
        return F.mse_loss(pred, y[b]) if task == "regress" else F.cross_entropy(pred, y[b])

    def validate():
        held = torch.arange(7, 10)
        acc = (net(x[held]).argmax(-1) == y[held]).double().mean().item() if task == "classify" else None
        return loss_of(held).item(), acc

    n, batch = 7, data["batch_size"]
    updates = total_updates(optim, n, batch)
    batches = plan(n, batch, updates, data.get("shuffle", False), data.get("seed", 0))
    assert out["training"]["batches"] == batches
    wd = optim.get("weight_decay", 0.01 if optim["kind"] == "adamw" else 0.0)
    opt = optimizer(optim["kind"], net.parameters(), optim["lr"], wd, optim.get("momentum", 0.9))
    sched = scheduler(opt, *schedule_of(optim), updates)
    theirs = train(list(net.parameters()), loss_of, batches, opt, sched, optim.get("clip_grad_norm"), validate,
                   validation_points(n, batch, updates))
    assert_figures(out["training"], theirs)
    assert_trained(out["trained_params"], named())
