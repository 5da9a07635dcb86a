"""How an encoder–decoder reads in the present layer: its steps know their stack and block, the pipeline
groups Encoder / Decoder / Output, the cross-attention steps say where Q, K and V come from."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from stepper.engine import build_trace
from stepper.present.outline import outline
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@cache
def trace_of(name: str):
    return build_trace(load_scenario(str(SCENARIOS / f"{name}.yaml")))


def test_every_step_of_a_stack_knows_its_stack_and_block():
    tr = trace_of("translate_by_hand")
    where = {s.id: (s.stack, s.block) for s in tr.steps}
    assert where["fwd.enc.embed"] == ("enc", "") and where["fwd.enc.L0.attn.scores"] == ("enc", "attn")
    assert where["fwd.dec.L0.res2"] == ("dec", "cross") and where["fwd.dec.L0.ln1"] == ("dec", "self")
    assert where["bwd.dec.L0.res3.merge"] == ("dec", "ffn") and where["bwd.enc.memory.merge"] == ("enc", "")
    assert where["fwd.head"] == ("", "") and where["bwd.embed.merge"] == ("", "")
    # the one-stack kinds have blocks but no stack
    mini = {s.id: (s.stack, s.block) for s in trace_of("mini").steps}
    assert mini["fwd.L0.ln2"] == ("", "ffn") and mini["fwd.L0.attn.q"] == ("", "attn")


def _headings(tr):
    return [(r.kind, r.depth, r.text) for r in outline(tr) if r.step is None]


def test_the_pipeline_groups_encoder_then_decoder_then_the_output():
    heads = [h for h in _headings(trace_of("translate_by_hand")) if h[0] != "head"]
    assert heads == [
        ("phase", 0, "FORWARD"),
        ("stack", 1, "Encoder"), ("group", 2, "Source embedding"), ("group", 2, "Layer 0"),
        ("block", 3, "Self-attention"), ("block", 3, "FFN"),
        ("stack", 1, "Decoder"), ("group", 2, "Target embedding"), ("group", 2, "Layer 0"),
        ("block", 3, "Self-attention (causal)"), ("block", 3, "Cross-attention"), ("block", 3, "FFN"),
        ("group", 1, "Output"),
        ("phase", 0, "BACKWARD"),
        ("group", 1, "Output"),
        ("stack", 1, "Decoder"), ("group", 2, "Layer 0"),
        ("block", 3, "FFN"), ("block", 3, "Cross-attention"), ("block", 3, "Self-attention (causal)"),
        ("group", 2, "Target embedding"),
        ("stack", 1, "Encoder"), ("group", 2, "Memory"), ("group", 2, "Layer 0"),
        ("block", 3, "FFN"), ("block", 3, "Self-attention"), ("group", 2, "Source embedding"),
        ("group", 1, "Shared embedding table"),
    ]


def test_the_two_sums_are_steps_of_their_own_under_their_headings():
    tr = trace_of("translate_by_hand")
    rows = outline(tr)
    text = {tr.steps[r.step].id: r.text for r in rows if r.step is not None}
    assert text["bwd.enc.memory.merge"] == "Sum into the memory: every cross-attention's K and V"
    assert text["bwd.embed.merge"] == "Shared table: source + target"
    assert text["fwd.dec.L0.cross.scores"] == "Scores Q·Kᵀ"  # the heading says where, the row what
    memory = next(n for n, r in enumerate(rows) if r.step == tr.index_of("bwd.enc.memory.merge"))
    assert rows[memory - 1].text == "Memory" and rows[memory - 2].text == "Encoder"


def test_the_one_stack_kinds_keep_their_list():
    heads = _headings(trace_of("mini"))
    assert not any(kind in ("stack", "block") for kind, _, _ in heads)
    assert ("group", 1, "Layer 0") in heads and ("group", 1, "Input") in heads
