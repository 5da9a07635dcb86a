"""Training after the backward pass: optimizer updates, and the loss after each of them.

The first update is recorded parameter by parameter (before, gradient, formula with
numbers, after); later updates only add their loss to the curve, so a 500-step XOR run
stays a short trace.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stepper.engine import optim
from stepper.engine.record import Recorder, fmt_num, tensor
from stepper.trace import Divergence, Formula, Step, Tensor

CURVE_FORMULA = Formula(
    plain="L_k = loss after k updates",
    latex=r"L_k = L(w^{(k)}),\quad k = 0, 1, \dots, N",
    meaning="The loss before training and after every update: a falling curve means the updates help.",
)


def train(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], loss0: float, cfg,
          loss_and_grads: Callable[[dict[str, np.ndarray]], tuple[float, dict[str, np.ndarray]]],
          rec: Recorder, labels: Callable[[str, np.ndarray], tuple],
          first_bad_step: Callable[[dict[str, np.ndarray]], Step | None]
          ) -> tuple[list[float], dict[str, np.ndarray], Divergence | None]:
    """Run `cfg.steps` updates; returns (losses [N+1], final parameters, where training first overflowed).

    `first_bad_step(params)` reruns one recorded pass and names the first step whose output is not finite."""
    diverged = None
    hyper = {"lr": cfg.lr, "beta": cfg.momentum, "beta1": cfg.beta1, "beta2": cfg.beta2, "eps": cfg.eps}
    state = optim.init_state(cfg.kind, params, cfg.velocity)
    losses, current, g = [loss0], dict(params), grads
    for t in range(1, cfg.steps + 1):
        new, new_state = {}, {}
        for name, w in current.items():
            new[name], new_state[name] = optim.update(cfg.kind, w, g[name], state[name], t, **hyper)
            if t == 1:
                _record(rec, cfg, name, w, g[name], state[name], new[name], new_state[name], labels)
        current, state = new, new_state
        loss, g = loss_and_grads(current)
        losses.append(loss)
        if diverged is None and not _finite(loss, g.values(), current.values()):
            diverged = _first_overflow(t, cfg, current, first_bad_step)
    rec.add("upd.curve", "optim", f"The loss over {cfg.steps} update{'s' if cfg.steps > 1 else ''}",
            CURVE_FORMULA, {}, {"L": tensor("L", np.array(losses), "train.losses", None,
                                             [str(k) for k in range(len(losses))])},
            bindings={"optimizer": cfg.kind, "α": fmt_num(cfg.lr), "L_0": fmt_num(losses[0]),
                      f"L_{cfg.steps}": fmt_num(losses[-1])})
    return losses, current, diverged


def _finite(loss: float, *groups) -> bool:
    return bool(np.isfinite(loss)) and all(np.all(np.isfinite(a)) for arrays in groups for a in arrays)


def _first_overflow(t, cfg, new, first_bad_step) -> Divergence | None:
    """Did update `t`'s own arithmetic, or the pass on its result `new`, make the first inf or NaN?
    Asked only at the first update that leaves something non-finite, so the answer is the first overflow."""
    for name, w in new.items():
        if not np.all(np.isfinite(w)):
            return Divergence(t, f"upd.{name}", f"Update {name}", cfg.lr)
    step = first_bad_step(new)
    return None if step is None else Divergence(t, step.id, step.title, cfg.lr)


def _record(rec, cfg, name, w, g, st, w_new, st_new, labels):
    rows, cols = labels(name, w)

    def t(sym, value, key=None):
        return Tensor(sym, value, rows if value.ndim == 2 else None, cols, key)

    inputs = {"w": t("w", w, name), "g": t("g", g, f"d:{name}")}
    outputs = {"w'": t("w'", w_new, f"upd1:{name}")}
    for s in st_new:
        inputs[s] = t(s, st[s])
        outputs[f"{s}'"] = t(f"{s}'", st_new[s], f"upd1:{name}:{s}")
    bindings = {"α": fmt_num(cfg.lr)}
    if cfg.kind == "momentum":
        bindings["β"] = fmt_num(cfg.momentum)
    elif cfg.kind == "adam":
        bindings.update({"β₁": fmt_num(cfg.beta1), "β₂": fmt_num(cfg.beta2), "ε": fmt_num(cfg.eps), "t": "1"})
    rec.add(f"upd.{name}", "optim", f"Update {name}", optim.FORMULAS[cfg.kind], inputs, outputs,
            bindings=bindings)
