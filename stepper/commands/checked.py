"""The engine's trace and its verification against torch, the two computed side by side.

`checked_trace(scenario)` is what `stepper check`, `stepper export` and the app's verifier run.
With two cores or more and torch already imported, the engine takes half of the cores and
torch's forward and backward pass (`verify.side_by_side`) the other half, at the same time;
everything is then compared exactly as `verify_scenario` would. Otherwise they take turns.
"""

from __future__ import annotations

import functools
import os
import sys
import threading

from stepper.engine import build_trace
from stepper.scenario.types import Scenario
from stepper.trace import Check, Trace


def checked_trace(scenario: Scenario, tol: float = 1e-10) -> tuple[Trace, Check]:
    """The trace, every step's Check set; and the Check of the loss and all parameter gradients."""
    cores = usable_cores()
    # torch takes a second or more to import, during which there is nothing to run beside the
    # engine: the engine then gets every core, and the import runs in the background as before
    if cores < 2 or "torch" not in sys.modules:
        start_reference_import()
        trace = build_trace(scenario)
        from stepper.verify.scenario_check import verify_scenario

        return trace, verify_scenario(scenario, trace, tol)
    from stepper.commands.memory import keep_freed_memory
    from stepper.verify.side_by_side import ReferenceRun

    keep_freed_memory()  # one shared heap: two threads each on a heap of its own fault in fresh pages
    from stepper.verify.scenario_check import check_forward_steps, grad_settler, verify_against

    engine_cores = cores // 2
    compared: dict = {}
    settle = LateSettle()
    run = ReferenceRun(scenario, threads=cores - engine_cores, settle=settle)
    try:
        with blas_threads(engine_cores):
            trace = build_trace(scenario)
        settle.start(grad_settler(trace, compared, tol))
    finally:
        run.engine_done()
    forward = run.forward()
    early: dict = {}  # not `compared`, which torch's thread may be writing to
    if forward is not None:  # the engine's cores are free while torch finishes its backward pass
        check_forward_steps(trace, forward, tol, early)
    graph = run.join()
    return trace, verify_against(scenario, trace, graph, tol, compared | early)


class LateSettle:
    """A `settle` for a reference that starts before the engine's gradients exist: until `start`,
    torch keeps every gradient it makes (they are compared afterwards); from then on each is
    compared as it is made and let go, as `verify_scenario` does. When torch is still being
    imported as the engine finishes, that is every gradient, and the memory stays as low."""

    def __init__(self) -> None:
        self._settle = None

    def start(self, settle) -> None:
        self._settle = settle

    def __call__(self, name: str, grad) -> bool:
        settle = self._settle
        return settle is not None and settle(name, grad)


@functools.cache
def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_threads(n: int):
    """numpy's BLAS on at most `n` threads, inside the `with` (numpy itself has no such setting)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def start_reference_import() -> None:
    """Begin importing torch (about a second) in the background, beside the engine's own work.

    `verify` imports the same module afterwards; Python's import lock makes it wait for this
    import to finish, and an import error surfaces there, where it would anyway.
    """
    def load() -> None:
        try:
            import stepper.verify.reference  # noqa: F401
        except BaseException:  # noqa: BLE001 - reported by verify's own import
            pass

    threading.Thread(target=load, name="torch import", daemon=True).start()
