"""`verify.checked`: the engine and the torch reference side by side give the verdicts of taking turns."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_info

import stepper.verify.entry as entry
from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.verify import checked
from stepper.verify.reference import partial_keys, reference_graph
from stepper.verify.scenario_check import verify_scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"
# every kind of model and task: encoder, decoder with a tied head and generation, mlp, training
LIBRARY = ["mini", "norm_pre", "char_gpt", "pizza_decoder", "multihead_8x64", "mlp_by_hand", "momentum_step",
           "xor_gelu"]


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def side_by_side(monkeypatch):
    """Two cores even on a one-core runner, so the side-by-side path is the one tested; it fails
    a test that took turns instead."""
    import stepper.verify.side_by_side as side

    runs = []

    class Counted(side.ReferenceRun):
        def __init__(self, *args, **kwargs):
            runs.append(weakref.ref(self))  # not the run itself: a test may ask that nothing keeps it
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(entry, "usable_cores", lambda: 2)
    monkeypatch.setattr(side, "ReferenceRun", Counted)
    yield
    assert runs, "the reference did not run beside the engine"


@pytest.mark.parametrize("name", LIBRARY)
def test_side_by_side_gives_the_verdicts_of_taking_turns(name, side_by_side):
    sc = load_scenario(str(SCENARIOS / f"{name}.yaml"))
    trace, verdicts = checked(sc)
    alone = build_trace(sc)
    alone_verdicts = verify_scenario(sc, alone)
    assert verdicts.totals.ok and alone_verdicts.totals.ok
    assert [s.id for s in trace.steps] == [s.id for s in alone.steps] == list(verdicts) == list(alone_verdicts)
    for step_id, ours in verdicts.items():
        assert ours.ok and ours.compared == alone_verdicts[step_id].compared, step_id
        assert ours.max_abs_err <= 1e-10
    assert verdicts.totals.max_abs_err <= 1e-10


def test_side_by_side_puts_the_thread_counts_back(side_by_side):
    torch_before, blas_before = torch.get_num_threads(), blas_threads()
    checked(load_scenario(str(SCENARIOS / "mini.yaml")))
    assert torch.get_num_threads() == torch_before and blas_threads() == blas_before
    # torch's default for a thread that first uses it later is process-wide: it is back too
    fresh = []
    thread = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert fresh == [torch_before]


def test_an_engine_error_is_raised_and_the_reference_thread_ends(monkeypatch, side_by_side):
    def broken(scenario):
        raise ValueError("engine broke")

    monkeypatch.setattr(entry, "build_trace", broken)
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="engine broke"):
        checked(load_scenario(str(SCENARIOS / "mini.yaml")))
    # stopped and joined before the error left: a thread inside torch at exit aborts the process
    assert not any(t.name == "torch reference" for t in threading.enumerate())
    assert torch.get_num_threads() == before


def test_a_stopped_reference_leaves_torch_at_its_next_operation():
    import time

    from stepper.scenario import parse_scenario
    from stepper.verify.side_by_side import ReferenceRun, Stopped

    vocab = [f"t{i}" for i in range(64)]
    # big enough that its forward pass alone outlasts a thread switch (5 ms), by far
    text = f"""
name: wide
model: {{kind: decoder, d_model: 512, n_heads: 8, n_layers: 8, d_ff: 2048, positional: learned, max_len: 64}}
input: {{vocab: {vocab}, tokens: {vocab[:49]}}}
task: {{kind: next_token}}
weights: {{seed: 0, init: {{std: 0.02}}}}
"""
    run = ReferenceRun(parse_scenario(text), threads=1)
    start = time.perf_counter()
    run.stop()
    assert time.perf_counter() - start < 5
    with pytest.raises(Stopped):
        run.join()


def test_a_reference_error_is_raised_in_the_callers_thread(monkeypatch, side_by_side):
    import stepper.verify.reference as reference

    def broken(*args, **kwargs):
        raise RuntimeError("reference broke")

    monkeypatch.setattr(reference, "reference_graph", broken)
    with pytest.raises(RuntimeError, match="reference broke"):
        checked(load_scenario(str(SCENARIOS / "mini.yaml")))


def test_one_core_takes_turns(monkeypatch):
    monkeypatch.setattr(entry, "usable_cores", lambda: 1)
    import stepper.verify.side_by_side as side

    monkeypatch.setattr(side, "ReferenceRun", None)  # would fail if used
    _, verdicts = checked(load_scenario(str(SCENARIOS / "mini.yaml")))
    assert verdicts.totals.ok and all(c.ok for c in verdicts.values())


@pytest.mark.parametrize("name", ["mini", "norm_post", "norm_pre", "char_gpt", "pizza_encoder", "multihead_8x64"])
def test_shared_taps_cover_every_partial_the_trace_asks_for(name):
    """Built before the trace exists, the reference must still read every `d:IN<-OUT` off its one
    backward pass; a partial it missed would be answered by re-running an operation (slow)."""
    sc = load_scenario(str(SCENARIOS / f"{name}.yaml"))
    graph = reference_graph(sc, tap_shared=True)
    asked = partial_keys(build_trace(sc))
    assert asked <= set(graph.edges)


def test_forward_steps_are_checked_while_torch_runs_its_backward(monkeypatch, side_by_side):
    """Once the engine is done, its cores check the forward steps; the rest keeps those verdicts."""
    import stepper.verify.scenario_check as scenario_check

    early = {}
    real = scenario_check.forward_checks

    def spy(trace, graph, tol, compared):
        found = real(trace, graph, tol, compared)
        early.update(found)
        return found

    monkeypatch.setattr(scenario_check, "forward_checks", spy)
    trace, verdicts = checked(load_scenario(str(SCENARIOS / "char_gpt.yaml")))
    forward = [s for s in trace.steps if s.phase == "forward"]
    assert set(early) == {s.id for s in forward}
    assert all(verdicts[s.id] is early[s.id] for s in forward)  # kept, not compared a second time


def test_nothing_of_the_reference_outlives_the_check(side_by_side):
    """The graph's hooks hold what they call: a hook holding the ReferenceRun kept it, its graph and
    every gradient alive in a cycle through torch that the collector cannot free (each later check
    then ran on fresh pages, twice as slow)."""
    import gc

    import stepper.verify.side_by_side as side

    made = []
    real = side.ReferenceRun._forward_made

    def spy(self, graph):
        made.append((weakref.ref(self), weakref.ref(graph)))
        real(self, graph)

    side.ReferenceRun._forward_made = spy
    try:
        trace, _ = checked(load_scenario(str(SCENARIOS / "mini.yaml")))
    finally:
        side.ReferenceRun._forward_made = real
    del trace
    gc.collect()
    assert made and all(ref() is None for pair in made for ref in pair)


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("name", ["mini", "char_gpt", "momentum_step"])
def test_checking_writes_nothing_into_the_trace(name, cores, monkeypatch):
    """The verdicts come back beside the trace: after `checked` it pickles byte for byte as the
    engine returned it, in turns and side by side."""
    import pickle

    made = []

    def recorded(scenario):
        trace = build_trace(scenario)
        made.append(pickle.dumps(trace))
        return trace

    monkeypatch.setattr(entry, "build_trace", recorded)
    monkeypatch.setattr(entry, "usable_cores", lambda: cores)
    sc = load_scenario(str(SCENARIOS / f"{name}.yaml"))
    trace, verdicts = checked(sc)
    assert verdicts.totals.ok and list(verdicts) == [s.id for s in trace.steps]
    assert made == [pickle.dumps(trace)]
    if cores == 1:  # taking turns the engine ran on every core: the same trace as the engine's own
        assert pickle.dumps(trace) == pickle.dumps(build_trace(sc))
