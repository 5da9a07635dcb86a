"""Training on a data set (stepper/engine/trainer.py) against a float64 PyTorch training loop.

The torch loop below is written from the training rules alone: batches from each epoch's order,
torch.optim's optimizers, clip_grad_norm_, the `transformers` schedules through LambdaLR, validation
after each epoch's last update (and after a last update part-way through an epoch).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
transformers_opt = pytest.importorskip("transformers.optimization")

from stepper.engine import trainer  # noqa: E402
from stepper.engine.batches import plan  # noqa: E402
from stepper.engine.run import build_trace  # noqa: E402
from stepper.scenario.load import load_scenario  # noqa: E402
from stepper.scenario.types import (  # noqa: E402
    DataConfig,
    Example,
    ModelConfig,
    OptimConfig,
    Scenario,
    ScheduleConfig,
    TaskConfig,
)

ACT = {"gelu": lambda z: F.gelu(z), "relu": F.relu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
       "none": lambda z: z}


def torch_fit(sc: Scenario):
    """(per-update loss, lr, grad norm, parameters after; validation loss, accuracy, after which update; stop)."""
    cfg, data = sc.optim, sc.data
    names = list(sc.params)
    params = [torch.tensor(sc.params[n], requires_grad=True) for n in names]
    by_name = dict(zip(names, params, strict=True))
    if cfg.kind in ("sgd", "momentum"):
        opt = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                              momentum=cfg.momentum if cfg.kind == "momentum" else 0.0)
        for n, p in by_name.items():
            if n in cfg.velocity:
                opt.state[p]["momentum_buffer"] = torch.tensor(cfg.velocity[n])
    else:
        cls = torch.optim.Adam if cfg.kind == "adam" else torch.optim.AdamW
        opt = cls(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
    kind, warm = cfg.schedule.kind, cfg.schedule.warmup
    sched = (transformers_opt.get_constant_schedule_with_warmup(opt, warm) if kind == "constant" else
             getattr(transformers_opt, f"get_{kind}_schedule_with_warmup")(opt, warm, cfg.steps))

    def as_tensors(examples):
        x = torch.tensor([e.features for e in examples], dtype=torch.float64)
        if sc.task.kind == "classify":
            return x, torch.tensor([sc.task.classes.index(e.label) for e in examples])
        return x, torch.tensor([e.target for e in examples], dtype=torch.float64)

    def loss_of(x, y):
        h = x
        for i in range(len(sc.model.sizes) - 1):
            h = h @ by_name[f"layers.{i}.W"] + by_name[f"layers.{i}.b"]
            if i < len(sc.model.sizes) - 2:
                h = ACT[sc.model.activation](h)
        return (F.cross_entropy(h, y) if sc.task.kind == "classify" else F.mse_loss(h, y)), h

    n, size = len(data.examples), data.batch_size
    per_epoch = math.ceil(n / size)
    out = {"loss": [], "lr": [], "norm": [], "params": [], "val_loss": [], "val_acc": [], "val_after": [],
           "stop": None}
    for t in range(cfg.steps):
        epoch, j = divmod(t, per_epoch)
        order = np.random.default_rng(data.seed + epoch).permutation(n) if data.shuffle else np.arange(n)
        x, y = as_tensors([data.examples[i] for i in order[j * size:(j + 1) * size]])
        opt.zero_grad()
        loss, _ = loss_of(x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm or math.inf)
        out["loss"].append(loss.item()), out["lr"].append(opt.param_groups[0]["lr"]), out["norm"].append(float(norm))
        if not math.isfinite(loss.item()) or not all(torch.isfinite(p.grad).all() for p in params):
            out["stop"] = t
            break
        opt.step()
        sched.step()
        out["params"].append(torch.cat([p.detach().reshape(-1) for p in params]).numpy().copy())
        if data.validation and ((t + 1) % per_epoch == 0 or t == cfg.steps - 1):
            with torch.no_grad():
                x, y = as_tensors(data.validation)
                v_loss, logits = loss_of(x, y)
            out["val_loss"].append(v_loss.item()), out["val_after"].append(t)
            if sc.task.kind == "classify":
                out["val_acc"].append(float((logits.argmax(dim=1) == y).double().mean()))
    return out


def assert_log_matches(log, ref):
    ran = len(ref["params"])
    np.testing.assert_allclose(log.batch_losses, ref["loss"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(log.lr, ref["lr"], rtol=1e-15, atol=0)
    np.testing.assert_allclose(log.grad_norm, ref["norm"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(log.param_history[:ran], np.array(ref["params"]).reshape(ran, -1),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(log.val_loss, ref["val_loss"], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(log.val_accuracy, ref["val_acc"], rtol=0, atol=0)
    assert log.val_after.tolist() == ref["val_after"]
    assert log.stopped_at == ref["stop"]


def xor_with_data(kind: str, **optim) -> Scenario:
    """xor_gelu trained on its four rows plus a centre point, validated on two more points."""
    sc = load_scenario("scenarios/xor_gelu.yaml")
    rows = [((0.0, 0.0), 0.0), ((0.0, 1.0), 1.0), ((1.0, 0.0), 1.0), ((1.0, 1.0), 0.0), ((0.5, 0.5), 0.5)]
    data = DataConfig(examples=tuple(Example(features=f, target=(y,)) for f, y in rows),
                      validation=(Example(features=(0.2, 0.9), target=(1.0,)),
                                  Example(features=(0.9, 0.8), target=(0.0,))),
                      batch_size=2, shuffle=True, seed=3)
    cfg = dataclasses.replace(sc.optim, **{"kind": kind, "lr": 0.05, "steps": 12, "epochs": 4, **optim})
    return dataclasses.replace(sc, data=data, optim=cfg)


@pytest.mark.parametrize("kind,extra", [
    ("sgd", {"weight_decay": 0.02}),
    ("momentum", {"weight_decay": 0.02, "schedule": ScheduleConfig("linear", 3)}),
    ("adam", {"weight_decay": 0.02, "clip_grad_norm": 0.3}),
    ("adamw", {"weight_decay": 0.01, "clip_grad_norm": 0.3, "schedule": ScheduleConfig("cosine", 2)}),
])
def test_regression_training_matches_a_torch_loop_update_by_update(kind, extra):
    sc = xor_with_data(kind, **extra)
    log = trainer.fit(sc)
    assert log.updates == 12 and log.param_history.shape == (12, 17)
    assert_log_matches(log, torch_fit(sc))
    assert len(log.val_loss) == 4 and log.val_accuracy.size == 0  # one per epoch; no accuracy for regress
    np.testing.assert_array_equal(np.concatenate([log.trained[n].ravel() for n in log.param_names]),
                                  log.param_history[-1])
    assert log.params_after(3)["layers.1.b"] == pytest.approx(log.param_history[3, -1])


def test_clipping_changes_the_run_only_when_the_norm_exceeds_the_limit():
    loose = trainer.fit(xor_with_data("adam", clip_grad_norm=1e9))
    free = trainer.fit(xor_with_data("adam"))
    tight = trainer.fit(xor_with_data("adam", clip_grad_norm=0.01))
    np.testing.assert_array_equal(loose.param_history, free.param_history)
    assert not np.allclose(tight.param_history, free.param_history)
    np.testing.assert_array_equal(tight.grad_norm[0], free.grad_norm[0])  # measured before clipping


def classify_mlp() -> Scenario:
    """A 2 → 5 → 3 relu classifier on seven points (batches of 3: the third is one point), four held out."""
    rng = np.random.default_rng(11)
    sizes = (2, 5, 3)
    params = {}
    for i in range(2):
        params[f"layers.{i}.W"] = rng.normal(size=sizes[i:i + 2]) * 0.8
        params[f"layers.{i}.b"] = rng.normal(size=sizes[i + 1]) * 0.1
    classes = ("a", "b", "c")

    def ex(k):
        return Example(features=tuple(rng.normal(size=2).round(2)), label=classes[k % 3])

    data = DataConfig(examples=tuple(ex(k) for k in range(7)), validation=tuple(ex(k) for k in range(4)),
                      batch_size=3)
    optim = OptimConfig(kind="momentum", lr=0.3, momentum=0.7, steps=8, weight_decay=0.05,
                        schedule=ScheduleConfig("cosine", 1), velocity={"layers.0.W": rng.normal(size=(2, 5))})
    return Scenario(name="cls", model=ModelConfig(kind="mlp", sizes=sizes, activation="relu"),
                    task=TaskConfig(kind="classify", classes=classes, label="a"), vocab=[], tokens=[],
                    params=params, features=(0.0, 0.0), optim=optim, data=data)


def test_classification_training_validates_after_each_epoch_and_after_a_last_partial_epoch():
    sc = classify_mlp()
    log = trainer.fit(sc)
    assert log.val_after.tolist() == [2, 5, 7]  # epochs of 3 updates; update 7 ends part-way through epoch 2
    assert [b.tolist() for b in log.batches[:3]] == [[0, 1, 2], [3, 4, 5], [6]]
    assert_log_matches(log, torch_fit(sc))
    assert set(log.val_accuracy) <= {0.0, 0.25, 0.5, 0.75, 1.0} and log.running == {}


def test_shuffled_batches_follow_each_epochs_seeded_permutation():
    batches = plan(5, 2, True, 3, 7)
    first, second = np.random.default_rng(3).permutation(5), np.random.default_rng(4).permutation(5)
    expected = [first[0:2], first[2:4], first[4:5], second[0:2], second[2:4], second[4:5], first[0:2]]
    expected[-1] = np.random.default_rng(5).permutation(5)[0:2]
    assert [b.tolist() for b in batches] == [e.tolist() for e in expected]
    assert [b.tolist() for b in plan(5, 2, False, 3, 4)] == [[0, 1], [2, 3], [4], [0, 1]]


def test_epochs_make_every_example_appear_once_per_epoch():
    batches = plan(7, 3, True, 0, 3 * math.ceil(7 / 3))
    counts = np.bincount(np.concatenate(batches), minlength=7)
    assert counts.tolist() == [3] * 7 and [len(b) for b in batches] == [3, 3, 1] * 3


def test_a_huge_learning_rate_stops_at_the_update_whose_loss_overflows():
    sc = xor_with_data("sgd", lr=1e6, steps=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning may escape
        log = trainer.fit(sc)
    ref = torch_fit(sc)
    assert log.stopped_at is not None and log.stopped_at == ref["stop"] and log.stopped_at > 0
    t = log.stopped_at
    assert log.updates == t + 1 and len(log.batches) == t + 1
    assert not (np.isfinite(log.batch_losses[t]) and np.isfinite(log.grad_norm[t]))
    assert np.isfinite(log.batch_losses[:t]).all()
    np.testing.assert_array_equal(log.param_history[t], log.param_history[t - 1])  # the stopped update changed nothing
    assert_log_matches(log, ref)


@pytest.mark.parametrize("name", ["xor_gelu", "mlp_by_hand"])
def test_without_data_the_traced_example_is_the_data_set(name):
    sc = load_scenario(f"scenarios/{name}.yaml")
    log, trace = trainer.fit(sc), build_trace(sc)
    np.testing.assert_allclose(log.batch_losses, trace.losses[:-1], rtol=1e-13, atol=1e-15)
    for n in trace.trained:
        np.testing.assert_allclose(log.trained[n], trace.trained[n], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(log.first_grads[n], trace.grads[n], rtol=1e-13, atol=1e-15)
    assert all(len(b) == log.batches[0].size for b in log.batches) and log.val_loss.size == 0


def test_each_layers_gradient_norm_is_its_share_of_the_total():
    """Per update, one norm per group of parameters (embed, each layer, head), computed before clipping:
    the squares add up to the total's square, and each is the norm of that group's own gradient."""
    from stepper.trace_keys import layer_group, layer_groups

    sc = load_scenario("scenarios/warmup_postnorm_train.yaml")
    log = trainer.fit(sc)
    assert list(log.layer_grad_norm) == ["embed", *(f"layers.{i}" for i in range(8)), "head"]
    squares = sum(v ** 2 for v in log.layer_grad_norm.values())
    np.testing.assert_allclose(squares, log.grad_norm ** 2, rtol=1e-12)
    first = {g: math.sqrt(sum(float((log.first_grads[n] ** 2).sum()) for n in names))
             for g, names in layer_groups(sc.params).items()}
    assert {g: v[0] for g, v in log.layer_grad_norm.items()} == pytest.approx(first, rel=1e-13)
    assert [layer_group(n) for n in ("encoder.layers.2.self_attn.W_Q", "decoder.layers.0.ffn.b_1",
                                     "decoder.ln_f.gamma", "embed.pos", "ln_f.beta", "layers.1.W")] == [
        "encoder.layers.2", "decoder.layers.0", "head", "embed", "head", "layers.1"]
