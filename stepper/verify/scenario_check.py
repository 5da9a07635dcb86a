"""A whole scenario checked against torch: every step, then the loss and every parameter gradient.

When torch runs after the engine (`verify_scenario`), the parameter gradients are compared while
its backward pass makes them (`compare_grads_as_made`), so it never holds all of them at once beside the
engine's. Beside the engine (`verify_against`, see verify/entry.py) most are made before the
engine has any, and are compared after.
"""

from __future__ import annotations

import numpy as np

from stepper.trace import Trace
from stepper.verify.compare import Compared, check_step, check_totals, compare_values, remember, verify_trace
from stepper.verify.verdicts import Check, Verdicts


def verify_scenario(scenario, trace: Trace, tol: float = 1e-10) -> Verdicts:
    """Builds the torch reference and checks every step, and the loss and every parameter gradient.

    The totals are checked too because a parameter gradient that no step outputs would
    otherwise go unverified.
    """
    from stepper.verify.reference import torch_reference

    compared: Compared = {}
    reference = torch_reference(scenario, given=trace, on_grad=compare_grads_as_made(trace, compared, tol))
    checks = verify_trace(trace, reference, tol, compared)
    return Verdicts(checks, check_totals(trace, reference, tol, compared), reference.training)


def verify_against(scenario, trace: Trace, graph, tol: float = 1e-10, compared: Compared | None = None,
                   known: dict[str, Check] | None = None) -> Verdicts:
    """`verify_scenario` with torch's forward and backward already run (`reference_graph`, e.g. beside
    the engine: see `verify.side_by_side`); training and generation references are added here.

    `compared`: what a `compare_grads_as_made` given to `reference_graph` has compared already; `known`: the
    steps already checked (`forward_checks`).
    """
    from stepper.verify.reference import finish_reference

    reference = finish_reference(graph, scenario, given=trace)
    compared = {} if compared is None else compared
    checks = verify_trace(trace, reference, tol, compared, known)
    return Verdicts(checks, check_totals(trace, reference, tol, compared), reference.training)


def forward_checks(trace: Trace, graph, tol: float = 1e-10, compared: Compared | None = None) -> dict[str, Check]:
    """The Check of every forward step whose outputs are all forward values of `graph`, a reference
    whose forward pass is done and whose backward pass may still be running (see `reference_graph`'s
    `forward_done`); `verify_against(..., known=...)` then keeps them."""
    from stepper.verify.graph import Reference

    early = Reference(graph)
    return {step.id: check_step(step, early, tol, compared) for step in trace.steps
            if step.phase == "forward" and all(t.key is None or t.key in graph.nodes for t in step.outputs.values())}


def compare_grads_as_made(trace: Trace, compared: Compared, tol: float = 1e-10):
    """An `on_grad` for the reference: each parameter gradient is compared with the engine's the moment
    torch's backward finishes it, and then let go.

    Taking turns, on the benchmark's GPT-2-small shape, that spares holding a second 680 MB of
    gradients, whose fresh pages are slow to touch. A gradient that a step shows only in part (a
    head's columns) or as a different array is kept, for that step to ask for.
    """
    kept_for_steps = {t.key for step in trace.steps for t in step.outputs.values()
                      if t.key and t.key.startswith("d:") and t.key[2:] in trace.grads
                      and (t.index or t.value is not trace.grads[t.key[2:]])}

    def on_grad(name: str, grad: np.ndarray) -> bool:
        key, value = f"d:{name}", trace.grads.get(name)
        if value is None or key in kept_for_steps:
            return False
        symbol = f"d{name}"
        remember(compared, key, value, symbol, compare_values(symbol, value, grad, key, tol))
        return True

    return on_grad
