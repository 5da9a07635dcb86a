"""The one verification entry point: the engine's trace and its verdicts against torch.

`checked(scenario)` is what `stepper check`, `stepper export`, the app's verifier process and the
tests run; the performance measures below are here and nowhere else, because the check of the
benchmark's GPT-2-small shape must stay within 2.5× of plain torch (benchmarks/bench_check.py).
Once torch is loaded (a second scenario in one `stepper check`, the benchmark), with two cores or
more and memory to spare, the engine takes half of the cores and torch's forward and backward
pass (`verify.side_by_side`) the other half, at the same time; everything is then compared
exactly as `verify_scenario` would. Otherwise they take turns, as a first check in a fresh
process always does: the engine then overlaps the torch import instead.

Side by side costs memory: torch has made most of its gradients before the engine has any to
compare them with, so both sets are held at once (on the benchmark's GPT-2-small shape, 2.7 GB
at the peak against 2.2 GB taking turns). And numpy on fewer threads sums in another order, so
a step's error may differ in its last digits from a check taken in turns; no verdict does.
"""

from __future__ import annotations

import sys
import threading

from stepper.engine import build_trace
from stepper.scenario.types import Scenario
from stepper.trace import Trace
from stepper.verify.compare import usable_cores
from stepper.verify.memory import keep_freed_memory
from stepper.verify.verdicts import Verdicts

# side by side holds a second set of gradients: the size of the parameters again, on top of what
# taking turns needs (about twice it); the memory free must cover that with room to spare
ROOM = 4


def checked(scenario: Scenario, tol: float = 1e-10) -> tuple[Trace, Verdicts]:
    """The engine's trace, untouched, and its Verdicts: every step's Check, and the totals.

    Side by side or in turns is decided here (see the module's docstring): the same verdicts either
    way. Freed memory is kept for reuse first (`keep_freed_memory`): a large model's gradients come
    and go by the hundred megabytes, and fresh pages are slow to touch.
    """
    keep_freed_memory()
    cores = usable_cores()
    # torch takes a second or more to import, during which there is nothing to run beside the
    # engine: the engine then gets every core, and the import runs in the background
    if cores < 2 or "torch" not in sys.modules or not _room_for(ROOM * _param_bytes(scenario)):
        start_reference_import()
        trace = build_trace(scenario)
        from stepper.verify.scenario_check import verify_scenario

        return trace, verify_scenario(scenario, trace, tol)
    from stepper.verify.scenario_check import compare_grads_as_made, forward_checks, verify_against
    from stepper.verify.side_by_side import ReferenceRun

    engine_cores = cores // 2
    compared: dict = {}
    run = ReferenceRun(scenario, threads=cores - engine_cores)
    try:
        with blas_threads(engine_cores):
            trace = build_trace(scenario)
        run.compare_grads_from_now(compare_grads_as_made(trace, compared, tol))
        forward = run.forward()
        early: dict = {}  # not `compared`, which torch's thread may be writing to
        known = {}
        if forward is not None:  # the engine's cores are free while torch finishes its backward pass
            known = forward_checks(trace, forward, tol, early)
        graph = run.join()
    except BaseException:  # the engine failed, or Ctrl-C: torch's thread must be out of torch first
        run.stop()
        raise
    return trace, verify_against(scenario, trace, graph, tol, compared | early, known)


def _param_bytes(scenario: Scenario) -> int:
    return sum(v.nbytes for v in scenario.params.values())


def _room_for(nbytes: int) -> bool:
    """Whether the kernel reports that much memory available (True where it does not say)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 >= nbytes
    except (OSError, ValueError, IndexError):
        pass
    return True


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
