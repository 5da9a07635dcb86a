"""torch's forward and backward pass in a thread of its own, while the engine computes the same model.

The engine and the reference are each a forward and a backward pass of matrix products, and the
two do not depend on each other until they are compared. On two cores, each at its own core
beats both taking turns at two: a product of a 64-row activation and a 768×3072 weight keeps
one core busy but wastes part of a second on handing work over (measured on the benchmark's
GPT-2-small shape: torch 0.79 s on one core, 0.43 s on two; the engine 0.79 s and 0.47 s).

What needs the engine's results (the training and generation references, which start from
its verified values) is left to `finish_reference`, after both are done.
"""

from __future__ import annotations

import threading

from stepper.scenario.types import Scenario
from stepper.verify.graph import Graph, Settle


class ReferenceRun:
    """`reference_graph(scenario)` in a daemon thread, on `threads` cores while the engine runs and
    on every core once `engine_done` was called before it starts (torch may still be importing)."""

    def __init__(self, scenario: Scenario, threads: int, settle: Settle | None = None) -> None:
        self._scenario, self._threads, self._settle = scenario, threads, settle
        self._engine_done = threading.Event()
        self._forward_done = threading.Event()  # also set when the thread ends, however it ends
        self._forward: Graph | None = None
        self._graph: Graph | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="torch reference", daemon=True)
        self._thread.start()

    def engine_done(self) -> None:
        self._engine_done.set()

    def forward(self) -> Graph | None:
        """The graph once torch's forward pass is done (its backward may still run: only forward
        values may be read from it), or None if the thread ended without one."""
        self._forward_done.wait()
        return self._forward

    def join(self) -> Graph:
        """The finished graph; re-raises what went wrong in the thread."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._graph is not None
        return self._graph

    def _run(self) -> None:
        try:
            import torch

            from stepper.verify.reference import reference_graph

            # the thread count is per calling thread (OpenMP), but torch also hands it to MKL
            # for the whole process: it is put back before this thread ends
            before = torch.get_num_threads()
            if not self._engine_done.is_set():
                torch.set_num_threads(self._threads)
            try:
                # which `d:IN<-OUT` the engine's steps will ask for is not known yet: every edge
                # out of a shared quantity is captured instead (see `Graph`)
                self._graph = reference_graph(self._scenario, settle=self._settle, tap_shared=True,
                                              forward_done=self._forward_made)
            finally:
                torch.set_num_threads(before)
        except BaseException as exc:  # noqa: BLE001 - raised again by join, in the caller's thread
            self._error = exc
        finally:
            self._forward_done.set()

    def _forward_made(self, graph: Graph) -> None:
        self._forward = graph
        self._forward_done.set()
