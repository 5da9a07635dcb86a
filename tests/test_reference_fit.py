"""The training reference's own semantics, and the check that names the update, parameter and entry.

Plain torch loops written here from the semantics (BatchNorm1d on the non-pad rows, dropout masks,
an mlp, preset momentum) hold `fit_reference` to them; `check_training` is shown a log made from a
reference run, then perturbed, and must name exactly what was changed.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fit_helpers import TOL, VOCAB, data, optim, pad_rows, scenario, sentences

from stepper.scenario.types import DataConfig, Example, ModelConfig, TaskConfig
from stepper.verify.reference_fit import batch_plan, fit_reference, multiplier
from stepper.verify.training_check import check_training

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("warmup", [0, 1, 3])
def test_schedule_multipliers_are_the_transformers_ones(kind, warmup):
    total = 9
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    fn = getattr(transformers, f"get_{kind}_schedule_with_warmup")
    sched = fn(opt, warmup) if kind == "constant" else fn(opt, warmup, total)
    for t in range(total):
        assert multiplier(kind, warmup, total, t) == opt.param_groups[0]["lr"], t
        opt.step()
        sched.step()


def test_batch_plan_walks_each_epochs_order_in_consecutive_slices():
    plan = batch_plan(5, 2, True, 4, 7)
    e0, e1, e2 = (np.random.default_rng(4 + e).permutation(5) for e in range(3))
    want = [e0[0:2], e0[2:4], e0[4:5], e1[0:2], e1[2:4], e1[4:5], e2[0:2]]
    assert [p.tolist() for p in plan] == [w.tolist() for w in want]
    assert [p.tolist() for p in batch_plan(3, 2, False, 0, 3)] == [[0, 1], [2], [0, 1]]


def mlp_case(kind: str):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 3))
    p = {"layers.0.W": rng.normal(size=(3, 4)), "layers.0.b": rng.normal(size=4) * 0.1,
         "layers.1.W": rng.normal(size=(4, 2)), "layers.1.b": rng.normal(size=2) * 0.1}
    model = ModelConfig(kind="mlp", sizes=(3, 4, 2), activation="gelu")
    if kind == "classify":
        labels = tuple(rng.choice(["u", "v"], 5))
        task = TaskConfig(kind="classify", classes=("u", "v"), labels=labels)
        return x, p, model, task, torch.tensor([("u", "v").index(c) for c in labels])
    y = rng.normal(size=(5, 2))
    return x, p, model, TaskConfig(kind="regress", target=tuple(map(tuple, y))), torch.tensor(y)


@pytest.mark.parametrize("kind", ["classify", "regress"])
def test_mlp_without_data_trains_its_rows_as_one_batch_with_preset_velocity(kind):
    x, p, model, task, y = mlp_case(kind)
    v0 = {"layers.0.W": np.full((3, 4), 0.3)}
    sc = scenario(model, task, p, optim("momentum", 0.1, 4, wd=0.01, momentum=0.7, velocity=v0), None,
                  features=tuple(map(tuple, x)))
    fit = fit_reference(sc)
    w = {n: torch.tensor(v, requires_grad=True) for n, v in p.items()}
    vel = {n: torch.tensor(v0.get(n, np.zeros_like(v))) for n, v in p.items()}
    for t in range(4):
        h = F.gelu(torch.tensor(x) @ w["layers.0.W"] + w["layers.0.b"]) @ w["layers.1.W"] + w["layers.1.b"]
        loss = F.cross_entropy(h, y) if kind == "classify" else ((h - y) ** 2).mean()
        grads = torch.autograd.grad(loss, list(w.values()))
        assert fit.batch_losses[t] == pytest.approx(loss.item(), abs=TOL)
        assert fit.grad_norm[t] == pytest.approx(torch.cat([g.ravel() for g in grads]).norm().item(), abs=TOL)
        with torch.no_grad():
            for (n, wt), g in zip(w.items(), grads, strict=True):
                vel[n] = 0.7 * vel[n] + g + 0.01 * wt  # L2 decay joins the gradient, then v = βv + g
                wt -= 0.1 * vel[n]
    for n in p:
        np.testing.assert_allclose(fit.trained[n], w[n].detach().numpy(), rtol=0, atol=TOL)


P_DROP = 0.3


def masks_for(t: int, b: int, length: int) -> list:
    """Some seeded keep masks (True = kept) for one layer of one head: given to both sides, as inputs."""
    rng = np.random.default_rng([99, t])
    return [SimpleNamespace(attn=rng.random((b, 1, length, length)) >= P_DROP,
                            attn_out=rng.random((b, length, 4)) >= P_DROP,
                            ffn_out=rng.random((b, length, 4)) >= P_DROP)]


def batchnorm_case():
    rng = np.random.default_rng(21)
    train, held = sentences(rng, 5, 2, 5), sentences(rng, 3, 2, 5)
    labels, val_labels = list(rng.choice(["x", "y"], 5)), list(rng.choice(["x", "y"], 3))
    d = 4
    p = {"embed.tok": rng.normal(size=(len(VOCAB), d))}
    for m in "QKVO":
        p[f"layers.0.attn.W_{m}"], p[f"layers.0.attn.b_{m}"] = rng.normal(size=(d, d)) * 0.5, rng.normal(size=d)
    for n in (1, 2):
        p[f"layers.0.ln{n}.gamma"], p[f"layers.0.ln{n}.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d)
    p["layers.0.ffn.W_1"], p["layers.0.ffn.b_1"] = rng.normal(size=(d, 6)), rng.normal(size=6) * 0.1
    p["layers.0.ffn.W_2"], p["layers.0.ffn.b_2"] = rng.normal(size=(6, d)), rng.normal(size=d) * 0.1
    p["head.W"], p["head.b"] = rng.normal(size=(d, 2)), rng.normal(size=2) * 0.1
    model = ModelConfig(kind="encoder", d_model=d, n_heads=1, n_layers=1, d_ff=6, activation="relu", norm="post",
                        positional="none", pooling="last", norm_type="batch", dropout=P_DROP)
    sc = scenario(model, TaskConfig(kind="classify", classes=("x", "y"), label=labels[0]), p,
                  optim("adam", 0.05, 5, clip=2.0), data(train, held, 2, labels=labels, val_labels=val_labels))
    return sc, train, held, labels, val_labels


def test_batchnorm_dropout_and_last_pooling_as_batchnorm1d_on_the_non_pad_rows():
    sc, train, held, labels, val_labels = batchnorm_case()
    fit = fit_reference(sc, masks_for=masks_for)
    w = {n: torch.nn.Parameter(torch.tensor(v)) for n, v in sc.params.items()}
    bn = {}
    for n in ("layers.0.ln1", "layers.0.ln2"):
        bn[n] = torch.nn.BatchNorm1d(4, momentum=0.1, dtype=torch.float64)
        bn[n].weight, bn[n].bias = w[n + ".gamma"], w[n + ".beta"]

    def forward(ids, keep):
        pad = ids == 0

        def norm(x, n):
            if keep is None:
                return bn[n].eval()(x.reshape(-1, 4)).reshape(x.shape)
            return x.masked_scatter(~pad[..., None].expand_as(x), bn[n].train()(x[~pad]))

        def drop(v, k):
            return v if keep is None else v * torch.tensor(k) / (1 - P_DROP)

        lin = {m: (lambda x, m=m: x @ w[f"layers.0.attn.W_{m}"] + w[f"layers.0.attn.b_{m}"]) for m in "QKVO"}
        x = w["embed.tok"][ids]
        s = (lin["Q"](x) @ lin["K"](x).transpose(1, 2) / 2.0).masked_fill(pad[:, None, :], float("-inf"))
        a = drop(torch.softmax(s, -1), keep[0].attn[:, 0] if keep else None)
        h = norm(x + drop(lin["O"](a @ lin["V"](x)), keep[0].attn_out if keep else None), "layers.0.ln1")
        f = torch.relu(h @ w["layers.0.ffn.W_1"] + w["layers.0.ffn.b_1"]) @ w["layers.0.ffn.W_2"]
        h = norm(h + drop(f + w["layers.0.ffn.b_2"], keep[0].ffn_out if keep else None), "layers.0.ln2")
        last = h[torch.arange(len(ids)), (~pad).sum(1) - 1]
        return last @ w["head.W"] + w["head.b"]

    index = {tok: i for i, tok in enumerate(VOCAB)}
    opt = torch.optim.Adam(list(w.values()), lr=0.05)
    val_x = pad_rows([[index[t] for t in r] for r in held], 0)
    val_y = torch.tensor([("x", "y").index(c) for c in val_labels])
    for t, rows in enumerate([[0, 1], [2, 3], [4], [0, 1], [2, 3]]):
        ids = pad_rows([[index[tok] for tok in train[r]] for r in rows], 0)
        opt.zero_grad()
        loss = F.cross_entropy(forward(ids, masks_for(t, *ids.shape)), torch.tensor(
            [("x", "y").index(labels[r]) for r in rows]))
        loss.backward()
        assert fit.grad_norm[t] == pytest.approx(torch.nn.utils.clip_grad_norm_(list(w.values()), 2.0).item(),
                                                 abs=TOL)
        assert fit.batch_losses[t] == pytest.approx(loss.item(), abs=TOL)
        opt.step()
        if t in (2, 4):
            with torch.no_grad():
                logits = forward(val_x, None)
            v = [2, 4].index(t)
            assert fit.val_loss[v] == pytest.approx(F.cross_entropy(logits, val_y).item(), abs=TOL)
            assert fit.val_accuracy[v] == (logits.argmax(-1) == val_y).double().mean().item()
    for n in sc.params:
        np.testing.assert_allclose(fit.trained[n], w[n].detach().numpy(), rtol=0, atol=TOL, err_msg=n)
    for n, module in bn.items():
        np.testing.assert_allclose(fit.running[n][0], module.running_mean.numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(fit.running[n][1], module.running_var.numpy(), rtol=0, atol=TOL)


def test_a_non_finite_loss_stops_training_with_the_parameters_unchanged():
    model = ModelConfig(kind="mlp", sizes=(1, 1), activation="none", bias=False)
    examples = (Example(features=(1.0,), target=(0.0,)),)
    sc = scenario(model, TaskConfig(kind="regress", target=(0.0,)), {"layers.0.W": np.array([[1.0]])},
                  optim("sgd", 1e200, 4), DataConfig(examples=examples, batch_size=1), features=(1.0,))
    seen = []
    fit = fit_reference(sc, on_update=lambda t, flat: seen.append((t, flat.copy())))
    # update 0: loss 1, gradient 2, w = 1 − 2e200; update 1: the loss overflows, nothing changes
    assert fit.stopped_at == 1 and fit.batch_losses[0] == 1.0 and not np.isfinite(fit.batch_losses[1])
    assert fit.trained["layers.0.W"][0, 0] == 1.0 - 2e200
    assert [t for t, _ in seen] == [0, 1] and seen[1][1][0] == seen[0][1][0]
    log = SimpleNamespace(batch_losses=fit.batch_losses, lr=fit.lr, grad_norm=fit.grad_norm, val_loss=[],
                          val_accuracy=[], val_after=[], param_names=["layers.0.W"], trained=fit.trained,
                          running={}, stopped_at=1, layer_grad_norm=fit.layer_grad_norm)
    for rows in ([seen[0][1]], [seen[0][1], seen[1][1]]):  # the stopped update's row may be left out
        log.param_history = np.array(rows)
        assert all(c.ok for c in check_training(log, sc)), rows
    log.param_history = np.array([seen[0][1] * (1 + 1e-6)])  # off by far more than 1e-9 of its size
    (msg,) = [c.worst for c in check_training(log, sc) if not c.ok]
    assert msg.startswith("update 0: layers.0.W[0, 0] is -2.000002e+200 here, -2e+200 in torch")


def test_mlp_examples_with_validation_after_each_epoch():
    x, p, model, _, y = mlp_case("regress")
    ex = tuple(Example(features=tuple(a), target=tuple(b)) for a, b in zip(x, y.numpy(), strict=True))
    sc = scenario(model, TaskConfig(kind="regress", target=tuple(y[0].tolist())), p, optim("sgd", 0.1, 7),
                  DataConfig(examples=ex[:4], validation=ex[4:], batch_size=3), features=tuple(x[0]))
    fit = fit_reference(sc)
    assert fit.val_after.tolist() == [1, 3, 5, 6] and fit.val_accuracy.size == 0
    w = {n: torch.tensor(v) for n, v in fit.trained.items()}
    pred = F.gelu(torch.tensor(x[4:]) @ w["layers.0.W"] + w["layers.0.b"]) @ w["layers.1.W"] + w["layers.1.b"]
    assert fit.val_loss[-1] == pytest.approx(((pred - y[4:]) ** 2).mean().item(), abs=TOL)


@pytest.fixture(scope="module")
def logged():
    """A TrainingLog-shaped record of the BatchNorm run, made by the reference itself: it must pass."""
    sc = batchnorm_case()[0]
    history = []
    fit = fit_reference(sc, masks_for=masks_for, on_update=lambda t, flat: history.append(flat.copy()))
    log = SimpleNamespace(**{k: getattr(fit, k) for k in ("batch_losses", "lr", "grad_norm", "val_loss",
                                                          "val_accuracy", "val_after", "trained", "stopped_at",
                                                          "layer_grad_norm")})
    log.param_names, log.param_history, log.running = list(sc.params), np.array(history), fit.running
    return sc, log


def copy_of(log, **changes):
    fields = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(log).items()}
    fields["trained"] = {n: v.copy() for n, v in log.trained.items()}
    fields["running"] = dict(log.running)
    fields["layer_grad_norm"] = {g: v.copy() for g, v in log.layer_grad_norm.items()}
    return SimpleNamespace(**(fields | changes))


def failures(sc, log) -> list[str]:
    return [c.worst for c in check_training(log, sc, masks_for=masks_for) if not c.ok]


def test_the_reference_agrees_with_its_own_log(logged):
    sc, log = logged
    checks = check_training(log, sc, masks_for=masks_for)
    assert all(c.ok for c in checks) and len(checks) == 10
    assert all(c.reference.startswith("torch training: ") for c in checks)


def test_a_parameter_off_at_one_update_is_named_with_its_entry(logged):
    sc, log = logged
    bad = copy_of(log)
    names = list(sc.params)
    at = sum(np.size(sc.params[n]) for n in names[:names.index("layers.0.attn.W_Q")]) + 1 * 4 + 3
    bad.param_history[3, at] += 3e-8
    (msg,) = failures(sc, bad)
    assert msg.startswith("update 3: layers.0.attn.W_Q[1, 3] is ") and msg.endswith("(|Δ| 3e-08)")
    assert f"{log.param_history[3, at]:.12g} in torch" in msg


def test_each_figure_names_its_update_or_validation(logged):
    sc, log = logged
    bad = copy_of(log)
    bad.batch_losses[2] += 1e-6
    bad.grad_norm[4] = np.nan
    bad.val_accuracy[1] = 0.25
    bad.trained["head.b"][1] += 1e-7
    bad.running["layers.0.ln2"] = (log.running["layers.0.ln2"][0], log.running["layers.0.ln2"][1] + [0, 0, 1e-5, 0])
    msgs = failures(sc, bad)
    assert msgs[0].startswith("update 2: the batch loss is ")
    assert msgs[1].startswith("update 4: the gradient norm is nan here")
    assert msgs[2].startswith("validation 1 (after update 4): the validation accuracy is 0.25 here")
    assert msgs[3].startswith("head.b[1] is ")
    assert msgs[4].startswith("layers.0.ln2.running_var[2] is ")
    assert len(msgs) == 5


def test_each_layers_gradient_norm_is_checked_update_by_update(logged):
    sc, log = logged
    assert list(log.layer_grad_norm) == ["embed", "layers.0", "head"]
    # the groups' norms make up the total: their squares add up to its square
    squares = sum(v ** 2 for v in log.layer_grad_norm.values())
    np.testing.assert_allclose(squares, log.grad_norm ** 2, rtol=1e-12)
    bad = copy_of(log)
    bad.layer_grad_norm["layers.0"][3] *= 1 + 1e-8
    (msg,) = failures(sc, bad)
    assert msg.startswith("update 3: the gradient norm of layers.0 is ") and "in torch" in msg
    missing = copy_of(log)
    del missing.layer_grad_norm["head"]
    (msg,) = failures(sc, missing)
    assert msg == "gradient norms per embed, layers.0 here, per embed, layers.0, head in torch"


def test_where_training_stopped_and_when_it_validated(logged):
    sc, log = logged
    msgs = failures(sc, copy_of(log, stopped_at=3, val_after=np.array([2, 3])))
    assert "validation ran after updates [2, 3] here, [2, 4] in torch" in msgs
    assert msgs[-1] == ("training stopped at update 3 (a loss or gradient not finite) here, "
                        "ran to the end in torch")
