"""A formula speaks of the arrays shown beside it, by their names, and "from step N" names the
step that made the array, under the name it had there. Checked on every step of every bundled scenario."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from stepper.engine import build_trace
from stepper.present.provenance import made_by
from stepper.present.roles import formula_lines, symbol_roles
from stepper.scenario import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
NAME = re.compile(r"[A-Za-z_][\w']*")


@cache
def trace_of(path: Path):
    return build_trace(load_scenario(path))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_formulas_symbols_are_the_names_of_the_arrays_shown(path):
    wrong = []
    for i, step in enumerate(trace_of(path).steps):
        shown = " ".join(formula_lines(step))
        names = {*step.inputs, *step.outputs}
        for symbol in set(NAME.findall(shown)):
            # `dH` in the formula beside an array `dh` that is another one: the case misleads
            clash = [n for n in names if n.lower() == symbol.lower() and n != symbol and symbol not in names]
            if clash:
                wrong.append(f"{i + 1} {step.id}: {symbol!r} beside {clash}")
        for symbol, name in symbol_roles(step):  # each generic symbol is written as the step's array
            # ᵀ is no part of a name: `Wᵀ` is W transposed
            if re.search(rf"(?<![A-Za-z0-9_']){re.escape(symbol)}(?![A-Za-z0-9_'])", shown):
                wrong.append(f"{i + 1} {step.id}: {symbol!r} still stands for {name!r}")
    assert wrong == []


def test_a_shared_formula_is_written_in_the_projections_names():
    step = next(s for s in trace_of(SCENARIOS[0].parent / "mini.yaml").steps if s.id == "bwd.L0.attn.q")
    assert formula_lines(step) == ["dW_Q = Xᵀ · dQ", "db_Q = Σ_rows dQ", "dX = dQ · W_Qᵀ"]


def test_mlp_by_hand_writes_the_relu_gradient_in_its_own_names():
    step = next(s for s in trace_of(SCENARIOS[0].parent / "mlp_by_hand.yaml").steps if s.id == "bwd.L0.act")
    assert formula_lines(step) == ["dz = dh ⊙ [z > 0]"]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_from_step_n_names_the_step_that_made_the_array_and_its_name_there(path):
    trace = trace_of(path)
    wrong = []
    for i, step in enumerate(trace.steps):
        for name, tensor in step.inputs.items():
            sources = trace.sources_of(i, tensor)
            said = made_by(trace, i, tensor)
            for n in sources:
                made = [m for m, t in trace.steps[n].outputs.items() if t.key == tensor.key]
                if not made:
                    wrong.append(f"{i + 1} {step.id}: {name} said to come from step {n + 1}, which made no such array")
                elif name not in made and not any(m in said for m in made):
                    wrong.append(f"{i + 1} {step.id}: {name} {said!r}, where it was called {made}")
    assert wrong == []


def test_mini_step_25_says_dy_is_the_dh_of_step_24():
    trace = trace_of(SCENARIOS[0].parent / "mini.yaml")
    step = trace.steps[24]
    assert step.id == "bwd.L0.ln2"
    assert made_by(trace, 24, step.inputs["dy"]) == "from step 24, as dh"
