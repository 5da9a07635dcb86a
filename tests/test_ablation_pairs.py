"""The bundled pairs that take a part of the model away give, on every run, the result their lessons state."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def trace(name: str):
    return build_trace(load_scenario(SCENARIOS / f"{name}.yaml"))


def outputs(t, step_id: str) -> dict[str, np.ndarray]:
    return {k: v.value for k, v in next(s for s in t.steps if s.id == step_id).outputs.items()}


def test_without_positions_i_am_and_am_i_are_the_same_input_up_to_the_order_of_rows():
    a, b = trace("no_positions_i_am"), trace("no_positions_am_i")
    assert a.tokens == ["I", "am"] and b.tokens == ["am", "I"]
    swap = [1, 0]
    # every token-by-token quantity is the other file's with rows (and, for attention, columns) swapped
    assert np.array_equal(outputs(a, "fwd.embed")["E"], outputs(b, "fwd.embed")["E"][swap])
    assert np.allclose(outputs(a, "fwd.L0.attn.softmax")["A"], outputs(b, "fwd.L0.attn.softmax")["A"][swap][:, swap],
                       rtol=0, atol=1e-15)
    # the mean pool forgets the order: from there on the two passes are the same numbers
    assert np.allclose(outputs(a, "fwd.pool")["pooled"], outputs(b, "fwd.pool")["pooled"], rtol=0, atol=1e-15)
    assert abs(a.loss - b.loss) <= 1e-15
    assert f"{a.loss:.4f}" == "1.3353"


def test_added_positions_move_every_column_and_concatenated_ones_only_their_own():
    add, cat = trace("positional_add"), trace("positional_concat")
    x_add, x_cat = outputs(add, "fwd.pos")["X"], outputs(cat, "fwd.pos")["X"]
    assert add.tokens[0] == add.tokens[2] == cat.tokens[0] == cat.tokens[2] == "I"
    assert np.all(x_add[0] != x_add[2])  # the same token at two places: no column left alone
    assert np.array_equal(x_cat[0, :2], x_cat[2, :2]) and np.all(x_cat[0, 2:] != x_cat[2, 2:])
    assert load_scenario(SCENARIOS / "positional_concat.yaml").params["embed.tok"].shape == (3, 2)
    step = next(s for s in cat.steps if s.id == "bwd.pos")
    assert np.array_equal(step.outputs["dE"].value, step.inputs["dX"].value[:, :2])
