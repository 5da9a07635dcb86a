"""Training, as the trace shows it: the first update parameter by parameter, then the loss curve.

The trainer (trainer.py) runs every update; this records what a learner steps through. The first
update is written out per parameter (before, the gradient it steps with, the optimizer's memory,
after), with the learning rate the schedule gave it, the clipping factor and the weight decay; the
curve holds the loss of every update's batch; validation, when the scenario has it, its own step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from stepper.engine import clip, optim
from stepper.engine.record import Recorder, fmt_num, tensor
from stepper.trace import Formula, Tensor, TrainingLog

CURVE_FORMULA = Formula(
    plain="L_k = loss after k updates",
    latex=r"L_k = L(w^{(k)}),\quad k = 0, 1, \dots, N",
    meaning="The loss before training and after every update: a falling curve means the updates help.",
)
BATCH_CURVE_FORMULA = Formula(
    plain="L_k = loss of update k's batch, with the weights after k updates",
    latex=r"L_k = L_{\text{batch}_k}(w^{(k)}),\quad k = 0, 1, \dots, N-1",
    meaning="Each update's batch loss, measured just before that update. Batches hold different examples, "
            "so the curve is noisy; its trend, not each step, says whether training helps.",
)
VALIDATION_FORMULA = Formula(
    plain="V_e = loss over the validation set after epoch e",
    latex=r"V_e = L_{\text{validation}}(w^{(\text{end of epoch } e)})",
    meaning="Examples never trained on, measured after each epoch: training loss that falls while this "
            "rises means the model is memorising its training set.",
)

# the same step's meaning when the validation set repeats training examples: it then measures fit, not
# generalisation
VALIDATION_SEEN = ("Measured after each epoch without updating. Here {seen} of the {n} validation examples are "
                   "also training examples, so this shows how well the model fits what it trained on, not how it "
                   "does on examples it has never seen.")


def _validation_formula(sc) -> Formula:
    """VALIDATION_FORMULA, or its honest variant when some validation examples are training examples."""
    def key(e):
        return e.source, e.tokens, e.label, e.features, e.target

    trained = {key(e) for e in sc.data.examples}
    seen = sum(key(e) in trained for e in sc.data.validation)
    if not seen:
        return VALIDATION_FORMULA
    return dataclasses.replace(VALIDATION_FORMULA, meaning=VALIDATION_SEEN.format(seen=seen, n=len(sc.data.validation)))


def record_training(rec: Recorder, sc, log: TrainingLog, labels: Callable[[str, np.ndarray], tuple],
                    final_loss: float | None) -> list[float]:
    """Records the first update, the curve and validation; returns the curve's losses.

    `final_loss` (no `data:`: the one example's loss after the last update; None when training stopped)
    ends the curve, so it reads "before training, after update 1, …, after update N"."""
    if log.stopped_at != 0:  # an update that stopped training at once changed nothing to show
        _first_update(rec, sc, log, labels)
    cfg = sc.optim
    losses = [float(x) for x in log.batch_losses] + ([final_loss] if final_loss is not None else [])
    key, formula = ("train.losses", CURVE_FORMULA) if sc.data is None else \
        ("train.batch_losses", BATCH_CURVE_FORMULA)
    n = log.updates
    rec.add("upd.curve", "optim", f"The loss over {n} update{'s' if n != 1 else ''}", formula, {},
            {"L": tensor("L", np.array(losses), key, None, [str(k) for k in range(len(losses))])},
            bindings={"optimizer": cfg.kind, "α": fmt_num(cfg.lr), "L_0": fmt_num(losses[0]),
                      f"L_{len(losses) - 1}": fmt_num(losses[-1])})
    if log.val_loss.size:
        after = [f"after {int(t) + 1}" for t in log.val_after]
        outputs = {"V": tensor("V", log.val_loss, "train.val_loss", None, after)}
        if log.val_accuracy.size:
            outputs["acc"] = tensor("acc", log.val_accuracy, "train.val_accuracy", None, after)
        rec.add("upd.validation", "optim", "Validation after each epoch", _validation_formula(sc), {}, outputs,
                bindings={"examples": str(len(sc.data.validation)), "V_first": fmt_num(float(log.val_loss[0])),
                          "V_last": fmt_num(float(log.val_loss[-1]))})
    return losses


def _first_update(rec: Recorder, sc, log: TrainingLog, labels) -> None:
    cfg = sc.optim
    lr = float(log.lr[0])
    factor = clip.coefficient(float(log.grad_norm[0]), cfg.clip_grad_norm) if cfg.clip_grad_norm is not None else 1.0
    hyper = {"lr": lr, "beta": cfg.momentum, "beta1": cfg.beta1, "beta2": cfg.beta2, "eps": cfg.eps}
    state = optim.init_state(cfg.kind, sc.params, cfg.velocity)
    coupled = cfg.weight_decay > 0 and cfg.kind != "adamw"  # L2: the decay joins the gradient the rule reads
    formula = _formula(cfg, coupled)
    for name, w in sc.params.items():
        g = factor * log.first_grads[name] + (cfg.weight_decay * w if coupled else 0.0)
        decay = cfg.weight_decay if cfg.kind == "adamw" else 0.0
        w_new, st_new = optim.update(cfg.kind, w, g, state[name], 1, weight_decay=decay, **hyper)
        rows, cols = labels(name, w)

        def t(sym, value, key=None, rows=rows, cols=cols):
            return Tensor(sym, value, rows if value.ndim == 2 else None, cols, key)

        inputs = {"w": t("w", w, name), "g": t("g", g, f"upd1.g:{name}")}
        outputs = {"w'": t("w'", w_new, f"upd1:{name}")}
        for s in st_new:
            inputs[s] = t(s, state[name][s])
            outputs[f"{s}'"] = t(f"{s}'", st_new[s], f"upd1:{name}:{s}")
        rec.add(f"upd.{name}", "optim", f"Update {name}", formula, inputs, outputs,
                bindings=_bindings(cfg, lr, factor, float(log.grad_norm[0])))


def _formula(cfg, coupled: bool) -> Formula:
    rule = optim.FORMULAS[cfg.kind]
    if not coupled:
        return rule
    wd = optim.WEIGHT_DECAY_FORMULA
    return Formula(plain=f"{wd.plain};  {rule.plain}", latex=f"{wd.latex},\\quad {rule.latex}",
                   meaning=f"{rule.meaning} {wd.meaning}", roles=rule.roles)


def _bindings(cfg, lr: float, factor: float, norm: float) -> dict[str, str]:
    out = {"α": fmt_num(lr)}
    if cfg.schedule.kind != "constant" or cfg.schedule.warmup:
        out["schedule"] = f"{cfg.schedule.kind}, warm-up {cfg.schedule.warmup}"
    if cfg.kind == "momentum":
        out["β"] = fmt_num(cfg.momentum)
    elif cfg.kind in ("adam", "adamw"):
        out.update({"β₁": fmt_num(cfg.beta1), "β₂": fmt_num(cfg.beta2), "ε": fmt_num(cfg.eps), "t": "1"})
    if cfg.weight_decay > 0:
        out["λ"] = fmt_num(cfg.weight_decay)
        # AdamW shrinks the weight apart from the gradient; the others add λ·w to the g shown
        out["decay"] = "decoupled" if cfg.kind == "adamw" else "L2, in g"
    if cfg.clip_grad_norm is not None:
        out["‖∇L‖"] = fmt_num(norm)
        out["clip"] = f"×{fmt_num(factor)}"
    return out
