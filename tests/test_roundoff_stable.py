"""The same output on every machine: what is printed and chosen never depends on round-off.

Two machines differ in the last bits of float64 arithmetic (BLAS kernels, summation order, thread
count). The export of every bundled scenario must still come out byte for byte the same, so it is
rendered here under arithmetic that differs in exactly that way: other OpenBLAS kernels and thread
counts in fresh processes, and parameters moved by one ulp in this one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stepper.engine import build_trace
from stepper.export.markdown import render_markdown
from stepper.present.worked import worked_line
from stepper.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

# each renders every scenario in a fresh process: (OPENBLAS_CORETYPE, thread count)
KERNELS = [("Haswell", "1"), ("Sandybridge", "2"), ("Prescott", "2")]

_RENDER_ALL = """
import json, sys
from pathlib import Path
from threadpoolctl import threadpool_info
from stepper.engine import build_trace
from stepper.export.markdown import render_markdown
from stepper.scenario import load_scenario
docs = {p.stem: render_markdown(build_trace(load_scenario(p))) for p in sorted(Path("scenarios").glob("*.yaml"))}
blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
json.dump({"blas": blas, "docs": docs}, sys.stdout)
"""


def _render(path: Path, nudge: np.random.Generator | None = None) -> str:
    sc = load_scenario(path)
    if nudge is not None:  # every parameter one ulp up or down, at random
        sc = dataclasses.replace(sc, params={
            name: np.nextafter(v, np.where(nudge.random(v.shape) < 0.5, -np.inf, np.inf))
            for name, v in sc.params.items()})
    return render_markdown(build_trace(sc))


@pytest.fixture(scope="module")
def baseline() -> dict[str, str]:
    return {p.stem: _render(p) for p in SCENARIOS}


def _first_difference(a: str, b: str) -> str:
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return f"line {n}:\n  {x}\n  {y}"
    return "lengths differ"


def _assert_same(baseline: dict[str, str], other: dict[str, str], how: str) -> None:
    differ = {name: _first_difference(baseline[name], other[name])
              for name in baseline if other[name] != baseline[name]}
    assert not differ, f"{how}: {len(differ)} exports differ\n" + "\n".join(
        f"{name}: {why}" for name, why in differ.items())


def test_one_ulp_on_every_parameter_changes_no_byte_of_any_export(baseline):
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        _assert_same(baseline, {p.stem: _render(p, rng) for p in SCENARIOS}, f"parameters nudged by 1 ulp (seed {seed})")


def test_other_blas_kernels_and_thread_counts_change_no_byte_of_any_export(baseline):
    runs = []
    for coretype, threads in KERNELS:
        env = {**os.environ, "OPENBLAS_CORETYPE": coretype, "OPENBLAS_NUM_THREADS": threads}
        runs.append((coretype, threads, subprocess.Popen([sys.executable, "-c", _RENDER_ALL], cwd=ROOT, env=env,
                                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    kernels = set()
    for coretype, threads, proc in runs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        got = json.loads(out)
        blas = got["blas"]
        # the arithmetic really was different: OpenBLAS took the kernel and the thread count asked for
        assert blas and blas[0]["internal_api"] == "openblas", blas
        assert blas[0]["num_threads"] == int(threads), blas
        kernels.add(blas[0]["architecture"])
        _assert_same(baseline, got["docs"], f"OPENBLAS_CORETYPE={coretype}, {threads} thread(s)")
    assert len(kernels) == len(KERNELS), f"the kernels asked for were not all used: {kernels}"


# --- the rules themselves --------------------------------------------------------------------------

def test_a_tie_up_to_round_off_goes_to_the_first_index_whichever_side_the_bits_fall():
    from stepper.roundoff import first_largest, ranked

    tied = 1.542
    for a, b in [(tied, np.nextafter(tied, 2)), (np.nextafter(tied, 2), tied)]:
        assert first_largest(np.array([[0.3, a], [b, -0.1]])) == (0, 1)
    assert ranked([0.2, 0.5, np.nextafter(0.5, 0), 0.1]) == [1, 2, 0, 3]
    assert first_largest([np.inf, 1.0, 2.0]) == (2,)  # only finite entries are candidates
    assert first_largest([5.0, 1.0], allowed=[False, True]) == (1,)


def test_round_off_residue_prints_one_way_and_a_rounding_boundary_rounds_one_way():
    from stepper.present.numbers import table_number as table_num
    from stepper.present.numbers import worked_number as line_num

    for residue in (0.0, -0.0, 4.3e-19, -1.5e-17):
        assert table_num(residue, 4, scale=0.002) == "0"
        assert line_num(residue) == "0"
    assert table_num(3e-13, 4, scale=1e-6) == "0"  # below 1e-12 whatever the table's scale
    assert table_num(2e-12, 4, scale=5e3) == "0"  # relative to a table of large numbers
    assert table_num(2e-12, 4, scale=0.5) == "2e-12"
    # 0.12345 is a tie at 4 digits in exact arithmetic: whichever neighbour the bits land on, one answer
    near = [np.nextafter(0.12345, 0), 0.12345, np.nextafter(0.12345, 1)]
    assert len({table_num(x, 4) for x in near}) == 1 and len({line_num(x) for x in near}) == 1


def test_the_key_bias_gradient_says_once_why_it_is_zero():
    from stepper.scenario import load_scenario

    trace = build_trace(load_scenario(ROOT / "scenarios" / "mini.yaml"))
    notes = [s.id for s in trace.steps if "is 0 in exact arithmetic" in (worked_line(s) or "")]
    assert notes == ["bwd.L0.attn.k"]
    md = render_markdown(trace)
    assert md.count("softmax ignores a constant shift of a row, so the loss cannot feel b_K") == 1


def test_the_app_prints_round_off_as_the_export_does_and_colours_none_of_it():
    from stepper.present.numbers import MatrixFormat

    db_k = np.array([4.3e-19, -2.1e-19, 0.0, -0.0])
    fmt = MatrixFormat(db_k)
    assert [fmt(x) for x in db_k] == ["0"] * 4
    mixed = np.array([0.25, -3e-17])
    assert MatrixFormat(mixed)(mixed[1]) == "0"


def test_the_quiz_asks_about_the_first_of_two_tied_entries_and_never_about_round_off():
    from stepper.quiz.questions import cell_question, sign_question
    from stepper.trace import Formula, Step, Tensor

    tied = np.array([[0.1, -0.3703], [np.nextafter(0.3703, 1), 0.2]])
    step = Step(id="bwd.x", phase="backward", stage="linear", title="t", formula=Formula("y", "y", "m"),
                inputs={}, outputs={"dW": Tensor("dW", tied, ["a", "b"], ["c", "d"], "d:w")})
    assert sign_question(step).answer == "negative"  # [a, d], before [b, c], whichever is larger in the bits
    assert "[a, d]" in cell_question(step).prompt
    step.outputs["dW"] = Tensor("dW", np.array([[4e-19, -1e-18]]), ["a"], ["c", "d"], "d:b_K")
    assert sign_question(step) is None


def test_the_largest_among_round_off_is_the_first_entry_not_the_machine_s_pick():
    """A gradient that is 0 in exact arithmetic (a deep stack without residuals, W_Q of layer 4) comes out as
    entries near 1e-18 whose order is the BLAS kernel's: they count as 0, so the first entry is chosen."""
    from stepper.roundoff import first_largest, ranked

    noise = np.array([[1e-18, -3e-18], [2e-17, 5e-19]])
    assert first_largest(np.abs(noise)) == (0, 0)
    assert ranked(np.abs(noise)) == [0, 1, 2, 3]
    assert first_largest(np.array([1e-18, 0.5, 0.25])) == (1,)  # a real value still wins
