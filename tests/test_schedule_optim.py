"""Schedules, optimizers and clipping agree with PyTorch (float64) number for number.

The engine writes these out as plain numpy formulas; the references here are torch.optim's own
optimizers, torch.nn.utils.clip_grad_norm_, and the `transformers` schedule functions driven through
torch.optim.lr_scheduler.LambdaLR exactly as a training loop steps them (once after each update).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers_opt = pytest.importorskip("transformers.optimization")

from stepper.engine import clip, optim, schedule  # noqa: E402

TORCH_SCHEDULES = {"constant": transformers_opt.get_constant_schedule_with_warmup,
                   "linear": transformers_opt.get_linear_schedule_with_warmup,
                   "cosine": transformers_opt.get_cosine_schedule_with_warmup}


def torch_learning_rates(kind: str, lr: float, warmup: int, total: int) -> list[float]:
    """The lr each of `total` updates uses in a torch loop: read before the step, scheduler stepped after."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    kwargs = {} if kind == "constant" else {"num_training_steps": total}
    sched = TORCH_SCHEDULES[kind](opt, num_warmup_steps=warmup, **kwargs)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("warmup,total", [(0, 1), (0, 10), (3, 10), (10, 10), (12, 10), (1, 7), (5, 37)])
def test_each_schedule_gives_the_transformers_learning_rates(kind, warmup, total):
    ours = schedule.learning_rates(0.03, kind, warmup, total)
    np.testing.assert_allclose(ours, torch_learning_rates(kind, 0.03, warmup, total), rtol=1e-15, atol=0)


def test_with_a_warmup_the_first_update_has_learning_rate_zero():
    assert schedule.learning_rates(0.1, "cosine", 4, 20)[0] == 0.0
    assert schedule.learning_rates(0.1, "linear", 0, 20)[0] == 0.1


def test_every_schedule_kind_has_a_formula():
    assert set(schedule.FORMULAS) == set(TORCH_SCHEDULES)


def torch_optimizer(kind, params, lr, wd, velocity):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if kind == "momentum":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.8, weight_decay=wd)
        for p, v in zip(params, velocity, strict=True):
            opt.state[p]["momentum_buffer"] = torch.tensor(v)
        return opt
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=(0.85, 0.99), eps=1e-6, weight_decay=wd)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_every_optimizer_with_weight_decay_matches_torch_over_several_updates(kind, wd):
    rng = np.random.default_rng(7)
    start = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    velocity = {"a": rng.normal(size=(3, 4))}  # b's velocity starts at zero
    grads = [{k: rng.normal(size=v.shape) * 2.0 for k, v in start.items()} for _ in range(6)]
    rates = [0.0, 0.02, 0.05, 0.05, 0.01, 0.03]  # a warm-up's lr 0 still advances the moments and the count
    tparams = [torch.tensor(v, requires_grad=True) for v in start.values()]
    opt = torch_optimizer(kind, tparams, rates[0], wd,
                          [velocity.get(k, np.zeros_like(v)) for k, v in start.items()])
    w, state = dict(start), optim.init_state(kind, start, velocity)
    for t, (g, lr) in enumerate(zip(grads, rates, strict=True), start=1):
        for tp, name in zip(tparams, start, strict=True):
            tp.grad = torch.tensor(g[name])
        opt.param_groups[0]["lr"] = lr
        opt.step()
        for name in start:
            w[name], state[name] = optim.update(kind, w[name], g[name], state[name], t, lr=lr, beta=0.8,
                                                beta1=0.85, beta2=0.99, eps=1e-6, weight_decay=wd)
        for tp, name in zip(tparams, start, strict=True):
            np.testing.assert_allclose(w[name], tp.detach().numpy(), rtol=1e-13, atol=1e-15,
                                       err_msg=f"{kind} update {t} {name}")


def test_adamw_decays_the_weight_even_with_a_zero_gradient():
    w = np.array([2.0, -4.0])
    state = optim.init_state("adamw", {"w": w}, {})["w"]
    new, _ = optim.update("adamw", w, np.zeros(2), state, 1, lr=0.1, beta=0.9, beta1=0.9, beta2=0.999,
                          eps=1e-8, weight_decay=0.5)
    np.testing.assert_allclose(new, w * (1 - 0.1 * 0.5))


def test_update_leaves_its_inputs_alone():
    w, g = np.ones(3), np.full(3, 0.5)
    for kind in ["sgd", "momentum", "adam", "adamw"]:
        st = optim.init_state(kind, {"w": w}, {})["w"]
        optim.update(kind, w, g, st, 1, lr=0.1, beta=0.9, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1)
        assert (w == 1).all() and (g == 0.5).all() and all((v == 0).all() for v in st.values())


@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clipping, and a limit far above the norm
def test_clipping_matches_clip_grad_norm(max_norm):
    rng = np.random.default_rng(3)
    grads = {"a": rng.normal(size=(4, 5)), "b": rng.normal(size=5), "c": rng.normal(size=(2, 2, 3))}
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for tp, g in zip(tparams, grads.values(), strict=True):
        tp.grad = torch.tensor(g)
    torch_norm = float(torch.nn.utils.clip_grad_norm_(tparams, max_norm))
    clipped, norm = clip.clip(grads, max_norm)
    assert norm == pytest.approx(torch_norm, rel=1e-14)
    for tp, name in zip(tparams, grads, strict=True):
        np.testing.assert_allclose(clipped[name], tp.grad.numpy(), rtol=1e-14, atol=0)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    assert clip.total_norm(flat) == pytest.approx(torch_norm, rel=1e-14)
    assert (clip.coefficient(norm, max_norm) < 1) == (max_norm < norm)


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_a_small_beta1_takes_torchs_other_lerp_form_and_still_matches(kind):
    rng = np.random.default_rng(2)
    w0, grads = rng.normal(size=6), [rng.normal(size=6) for _ in range(4)]
    tw = torch.tensor(w0, requires_grad=True)
    opt = (torch.optim.Adam if kind == "adam" else torch.optim.AdamW)([tw], lr=0.1, betas=(0.3, 0.9),
                                                                     weight_decay=0.1)
    w, st = w0.copy(), optim.init_state(kind, {"w": w0}, {})["w"]
    for t, g in enumerate(grads, start=1):
        tw.grad = torch.tensor(g)
        opt.step()
        optim.step(kind, w, g.copy(), st, t, lr=0.1, beta=0.0, beta1=0.3, beta2=0.9, eps=1e-8, weight_decay=0.1)
        np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-14, atol=1e-16)
