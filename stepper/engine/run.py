"""Entry points: a scenario in, a Trace (or just the loss) out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from stepper.engine.record import Recorder
from stepper.scenario.step_names import step_name_warnings
from stepper.scenario.types import Scenario
from stepper.trace import Trace


def _pass(sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
    if sc.model.kind == "mlp":
        from stepper.engine.mlp import MLPPass, mlp_backward

        return MLPPass(sc, params, rec), mlp_backward
    from stepper.engine.transformer import TransformerPass
    from stepper.engine.transformer_backward import Backward

    return TransformerPass(sc, params, rec), lambda tp: Backward(tp).run()


def loss_and_grads(sc: Scenario, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Forward and backward without recording: what each training update needs."""
    fwd, backward = _pass(sc, params, None)
    loss = fwd.forward()
    return loss, backward(fwd)


def build_trace(sc: Scenario) -> Trace:
    """Run forward and backward once, recording every step; then train if the scenario asks."""
    rec = Recorder(sc.lessons)
    fwd, backward = _pass(sc, sc.params, rec)
    loss = fwd.forward()
    grads = backward(fwd)
    grads = {name: grads[name] for name in sc.params}  # contract order
    trace = Trace(scenario=sc.name, title=sc.title, config=sc.config_dict(), steps=rec.steps, loss=loss,
                  logits=fwd.act.get("logits", fwd.act.get("pred")), params=sc.params, grads=grads,
                  tokens=list(sc.tokens), description=sc.description, quiz=list(sc.quiz))
    if sc.optim is not None:
        from stepper.engine.train import train

        trace.losses, trace.trained = train(sc.params, grads, loss, sc.optim,
                                            lambda p: loss_and_grads(sc, p), rec, fwd.param_labels)
    if sc.generate is not None:
        from stepper.engine.generate import generate

        # a model that trains generates with what it learned
        trained = dataclasses.replace(sc, params=trace.trained) if trace.trained else sc
        trace.generated = generate(trained, rec)
    # a lesson or question naming no step would never be seen: say so, and where
    trace.warnings = step_name_warnings(sc, [s.id for s in trace.steps])
    return trace


def loss_fn(sc: Scenario) -> Callable[[dict[str, np.ndarray]], float]:
    """The loss as a function of the parameters alone, for finite differences."""
    def f(params: dict[str, np.ndarray]) -> float:
        fwd, _ = _pass(sc, params, None)
        return fwd.forward()

    return f
