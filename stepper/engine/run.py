"""Entry points: a scenario in, a Trace (or just the loss) out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from stepper.engine.record import Recorder
from stepper.scenario.step_names import step_name_warnings
from stepper.scenario.types import Scenario
from stepper.trace import Step, Trace


def _pass(sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
    if sc.model.kind == "mlp":
        from stepper.engine.mlp import MLPPass

        return MLPPass(sc, params, rec)
    if sc.model.kind == "seq2seq":
        from stepper.engine.seq2seq import Seq2SeqPass

        return Seq2SeqPass(sc, params, rec)
    from stepper.engine.transformer import TransformerPass

    return TransformerPass(sc, params, rec)


def loss_and_grads(sc: Scenario, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Forward and backward without recording: what each training update needs."""
    model = _pass(sc, params, None)
    loss, cache = model.forward()
    return loss, model.backward(cache)


def recorded_pass(sc: Scenario, params: dict[str, np.ndarray], *, backward: bool = True) -> list[Step]:
    """Forward and backward once with these weights, every step recorded (no lessons); with
    `backward=False` the forward pass alone (what the insight summaries read: half the cost)."""
    rec = Recorder()
    model = _pass(sc, params, rec)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        _, cache = model.forward()
        if backward:
            model.backward(cache)
    return rec.steps


def first_non_finite(sc: Scenario, params: dict[str, np.ndarray]) -> Step | None:
    """The first step of a pass with these weights whose output holds an inf or NaN it should not:
    a mask's −∞ where a token may not look is meant, and so is its exp, 0, downstream."""
    for step in recorded_pass(sc, params):
        for t in step.outputs.values():
            v = np.asarray(t.value, dtype=np.float64)
            bad = np.isnan(v) | (v == np.inf) | ((v == -np.inf) & (step.stage != "mask"))
            if bad.any():
                return step
    return None


def build_trace(sc: Scenario) -> Trace:
    """Run forward and backward once, recording every step; then train if the scenario asks.

    Numpy's overflow and invalid-value warnings are silenced here, the engine's entry: the mask computes
    −∞ on purpose, and a run that overflows is reported in words (Trace.diverged), not by numpy."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _build_trace(sc)


def _build_trace(sc: Scenario) -> Trace:
    rec = Recorder(sc.lessons)
    if sc.bpe is not None:  # the pieces come first: the pass reads them
        from stepper.engine.tokenize_step import record_bpe

        record_bpe(rec, sc)
    model = _pass(sc, sc.params, rec)
    loss, cache = model.forward()
    grads = model.backward(cache)
    grads = {name: grads[name] for name in sc.params}  # the order of docs/scenario-format.md's parameter table
    losses, trained, diverged, generated, training = [], {}, None, [], None
    if sc.optim is not None:
        from stepper.engine.train import record_training
        from stepper.engine.trainer import fit

        training = fit(sc)
        trained = training.trained
        # without a data set the curve ends with the loss after the last update (the one example's)
        final = None if sc.data is not None or training.stopped_at is not None else loss_fn(sc)(trained)
        losses = record_training(rec, sc, training, model.param_labels, final)
        if training.stopped_at is not None:
            from stepper.engine.divergence import locate

            diverged = locate(sc, training)
    if sc.generate is not None:
        from stepper.engine.generate import generate

        # a model that trains generates with what it learned
        generated = generate(dataclasses.replace(sc, params=trained) if trained else sc, rec,
                             training.running if training is not None else None)
    return Trace(scenario=sc.name, title=sc.title, config=sc.config_dict(), steps=rec.steps, loss=loss,
                 logits=model.logits(cache), params=sc.params, grads=grads, tokens=list(sc.tokens),
                 description=sc.description, quiz=list(sc.quiz), overrides=sc.overrides, losses=losses,
                 tokenizer={} if sc.bpe is None else sc.bpe.as_dict(),
                 trained=trained, diverged=diverged, generated=generated, training=training,
                 # a lesson or question naming no step would never be seen: say so, and where
                 warnings=step_name_warnings(sc, [s.id for s in rec.steps]))


def loss_fn(sc: Scenario) -> Callable[[dict[str, np.ndarray]], float]:
    """The loss as a function of the parameters alone, for finite differences."""
    def f(params: dict[str, np.ndarray]) -> float:
        return _pass(sc, params, None).forward()[0]

    return f
