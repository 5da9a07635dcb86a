"""The cost model's figures (stepper/scenario/cost.py, budget.py) equal what a real run measures.

Bytes: every forward step's outputs, counted per (layer, stage), against the model's plan from the
config alone; the parameters against the trace's arrays; the KV cache against the engine's cache
arrays at the last decode. FLOPs: the matrix products against torch's own counter
(torch.utils.flop_counter, 2·m·k·n per matmul) over the reference's forward and backward, and every
step's FLOPs (present/cost.py, from its shapes) adding up to the model's rows.
"""

from __future__ import annotations

from collections import Counter

import pytest

from stepper.engine import build_trace
from stepper.present.cost import made_bytes, step_flops
from stepper.scenario import load_scenario
from stepper.scenario.budget import budget
from stepper.scenario.cost import crossover

SCENARIOS = ["mini", "char_gpt", "multihead_8x64", "norm_pre", "xor_gelu", "mlp_by_hand",
             "layernorm_vs_batchnorm_batch", "tiny_lm_train", "sqrt_dk_unscaled"]


def _run(name: str):
    scenario = load_scenario(f"scenarios/{name}.yaml")
    return scenario, build_trace(scenario), budget(scenario)


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_bytes_each_forward_stage_makes_equal_the_arrays_of_a_run(name):
    scenario, trace, b = _run(name)
    measured, predicted = Counter(), Counter()
    for step in trace.steps:
        if step.phase == "forward":
            measured[step.layer, step.stage] += sum(t.value.nbytes for t in step.outputs.values())
            assert made_bytes(step) == sum(t.value.nbytes for t in step.outputs.values())
    for op in b.ops:
        predicted[op.layer, op.stage] += 8 * op.made
    assert +measured == +predicted
    assert b.activation_bytes == sum(measured.values())


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_parameters_counted_from_the_config_are_the_trace_s(name):
    _, trace, b = _run(name)
    assert b.n_params == sum(p.size for p in trace.params.values())
    assert b.param_bytes == sum(p.nbytes for p in trace.params.values())


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_step_s_flops_add_up_to_the_model_s(name):
    """One set of rules: the steps of a pass, priced from their own shapes, make the table's figures."""
    _, trace, b = _run(name)
    per_step, model = Counter(), Counter()
    for step in trace.steps:
        if step.phase in ("forward", "backward"):
            per_step[step.phase, step.layer, step.stage] += step_flops(trace, step)
    for op in b.ops:
        model["forward", op.layer, op.stage] += op.flops
        model["backward", op.layer, op.stage] += op.backward
    assert +per_step == +model


def test_the_kv_cache_equals_the_engine_s_cache_arrays_at_the_last_decode():
    scenario, trace, b = _run("char_gpt")
    last = [s for s in trace.steps if s.part == "decode"][-1]
    cached = sum(t.value.nbytes for name, t in last.outputs.items() if name[:2] in ("K_", "V_"))
    m = scenario.model
    assert b.context == len(scenario.tokens) + scenario.generate.max_new_tokens - 1
    assert b.kv_cache_bytes == cached == 8 * 2 * m.n_layers * b.context * m.d_model


def test_an_encoder_keeps_no_kv_cache_and_an_optimizer_its_state():
    assert _run("mini")[2].kv_cache_bytes == 0
    b = _run("tiny_lm_train")[2]
    assert b.optimizer in ("adam", "adamw") and b.optimizer_bytes == 2 * b.param_bytes


@pytest.mark.parametrize("name", ["mini", "char_gpt", "multihead_8x64", "xor_gelu", "norm_pre"])
def test_matrix_product_flops_equal_torch_s_own_count(name):
    """FlopCounterMode counts mm, addmm and bmm as 2·m·k·n; the backward makes two products per forward one."""
    from torch.utils.flop_counter import FlopCounterMode

    from stepper.verify.reference import reference_graph

    scenario, _, b = _run(name)
    with FlopCounterMode(display=False) as counter:
        reference_graph(scenario)
    assert counter.get_total_flops() == 3 * sum(op.matmul for op in b.ops)


def test_the_crossover_is_where_attention_s_rows_meet_the_projections():
    """At the crossover T the O(T²) rows and the O(T·d²) rows of one layer cost the same."""
    from stepper.present.cost_table import split

    scenario = load_scenario("scenarios/char_gpt.yaml")
    at = crossover(scenario.model, 0)
    below, above = budget(scenario, t=int(at) - 1), budget(scenario, t=int(at) + 2)
    assert split(below)[0] < split(below)[1] and split(above)[0] > split(above)[1]


def test_doubling_d_model_multiplies_the_square_terms_by_four():
    """The learner's "double EMBEDDING_DIM": the d² parameters ×4, the activations of a [T, d] ×2."""
    scenario = load_scenario("scenarios/mini.yaml")
    one, two = budget(scenario), budget(scenario, d_model=2 * scenario.model.d_model)
    qkv = [sum(o.flops for o in b.ops if o.row.startswith("Q, K, V")) for b in (one, two)]
    bias = 3 * scenario.model.d_model * one.t
    assert qkv[1] - 2 * bias == 4 * (qkv[0] - bias)
    made = [sum(o.made for o in b.ops if o.stage == "residual") for b in (one, two)]
    assert made[1] == 2 * made[0]
