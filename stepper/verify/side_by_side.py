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
from stepper.verify.graph import Graph, OnGrad


class Stopped(Exception):
    """Raised inside the reference's thread when the caller gave up on it (see `ReferenceRun.stop`)."""


class _StopFlag:
    """Raises `Stopped` once set. The graph calls it before every operation and at every gradient;
    it holds nothing but its Event, because whatever it holds the graph's tensors hold too, through
    torch's hooks: a ReferenceRun there would keep itself, its graph and every gradient alive in a
    cycle the collector cannot see, and each later check would start on fresh pages."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self) -> None:
        if self.event.is_set():
            raise Stopped


class _CompareOrStop:
    """The backward pass's hook: leave torch if stopped (its C++ loop can be left only here), else
    hand the gradient to `on_grad` once there is one (see `ReferenceRun.compare_grads_from_now`); until then torch keeps
    each gradient it makes."""

    def __init__(self, stop: _StopFlag) -> None:
        self.stop, self.on_grad = stop, None

    def __call__(self, name: str, grad) -> bool:
        self.stop()
        return self.on_grad is not None and self.on_grad(name, grad)


class ReferenceRun:
    """`reference_graph(scenario)` in a thread of its own, with torch on `threads` cores.

    The caller must `join` it, or `stop` it when its own side fails: a thread still inside torch
    when the interpreter exits aborts the process ("terminate called without an active
    exception") instead of letting it end with its error or Ctrl-C's exit code.
    """

    def __init__(self, scenario: Scenario, threads: int) -> None:
        self._scenario, self._threads = scenario, threads
        self._stop = _StopFlag()
        self._hook = _CompareOrStop(self._stop)
        self._forward_done = threading.Event()  # also set when the thread ends, however it ends
        self._forward: Graph | None = None
        self._graph: Graph | None = None
        self._error: BaseException | None = None
        # not a daemon: even if nobody stops it, the interpreter waits for it rather than abort
        self._thread = threading.Thread(target=self._run, name="torch reference")
        self._thread.start()

    def compare_grads_from_now(self, on_grad: OnGrad) -> None:
        """From now on each parameter gradient torch finishes goes to `on_grad` (which may let it go).

        The engine's gradients, which `on_grad` compares against, exist only once the engine is done;
        torch is usually through most of its backward pass by then, so this spares little memory,
        but it compares those last gradients while the engine's cores check the forward steps."""
        self._hook.on_grad = on_grad

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

    def stop(self) -> None:
        """Abandon the reference: the thread leaves torch at its next operation or gradient."""
        self._stop.event.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            import torch

            from stepper.verify.reference import reference_graph

            # torch 2.13 keeps the count per thread, but a thread that first uses torch while this
            # one has it lowered starts with the lowered count: it is put back before the end
            before = torch.get_num_threads()
            torch.set_num_threads(self._threads)
            try:
                # which `d:IN<-OUT` the engine's steps will ask for is not known yet: every edge
                # out of a shared quantity is captured instead (see `Graph`)
                self._graph = reference_graph(self._scenario, on_grad=self._hook,
                                              tap_shared=True, forward_done=self._forward_made,
                                              interrupt=self._stop)
            finally:
                torch.set_num_threads(before)
        except BaseException as exc:  # noqa: BLE001 - raised again by join, in the caller's thread
            self._error = exc
        finally:
            self._forward_done.set()

    def _forward_made(self, graph: Graph) -> None:
        self._forward = graph
        self._forward_done.set()
