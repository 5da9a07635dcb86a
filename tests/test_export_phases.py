"""The markdown export beyond one forward and backward pass: training, generation and quiz results."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_export_markdown import MarkdownSnapshot, assert_cell, assert_tables_render, tables

from stepper.engine import build_trace
from stepper.export.markdown import render_markdown
from stepper.export.md_tables import text
from stepper.export.md_token_choice import TOP
from stepper.present.worked import worked_line
from stepper.quiz import mark, question_for
from stepper.scenario import parse_scenario
from stepper.verify.compare import verify_trace
from stepper.verify.reference import torch_reference
from stepper.verify.verdicts import Check

TRAIN = """
name: mlp-momentum
title: "A 2-2-1 MLP learns one target with momentum"
model: {kind: mlp, sizes: [2, 2, 1], activation: relu}
input: {features: [1.0, -1.0]}
task: {kind: regress, target: [0.5]}
weights: {seed: 3, init: {std: 0.5}}
optim: OPTIM
"""
MOMENTUM = "{kind: momentum, lr: 0.1, momentum: 0.9, steps: STEPS, velocity: {layers.0.b: [0.25, -0.5]}}"

GENERATE = """
name: gen-decoder
title: "\\"<bos> I love\\" continued, three tokens at τ = 0.7, top-k 2"
model: {kind: decoder, d_model: 4, n_heads: 2, d_ff: 8, norm: pre, positional: learned, max_len: 8}
input:
  vocab: ["<bos>", "I", "love", "hate", "pizza", "rain"]
  tokens: ["<bos>", "I", "love"]
task: {kind: next_token}
weights: {seed: 7, init: {std: 0.5}}
generate: {max_new_tokens: 3, temperature: 0.7, top_k: 2, top_p: 1.0, seed: 0}
"""

BIG_VOCAB = """
name: wide
model: {kind: decoder, d_model: 4, n_heads: 1, d_ff: 4}
input:
  vocab: [w00, w01, w02, w03, w04, w05, w06, w07, w08, w09, w10, w11, w12, w13, w14, w15, w16, w17]
  tokens: [w01, w02, w03]
task: {kind: next_token}
generate: {max_new_tokens: 2, temperature: 1.5, top_p: 0.9, seed: 1}
"""

CHARS = """
name: chars
model: {kind: decoder, d_model: 4, n_heads: 1, d_ff: 4, positional: learned, max_len: 12}
input: {text: "ab ba", tokenizer: char}
task: {kind: next_token}
generate: {max_new_tokens: 4, temperature: 1.0, seed: 2}
"""

CHECKS: dict[int, dict] = {}  # id(a verified trace) → its verdicts, as verification returned them


def render(trace, **kw) -> str:
    return render_markdown(trace, verdicts=CHECKS.get(id(trace)), **kw)


@pytest.fixture
def snapshot_md(snapshot):
    return snapshot.use_extension(MarkdownSnapshot)


def train_trace(steps: int = 12, optim: str = MOMENTUM):
    return build_trace(parse_scenario(TRAIN.replace("OPTIM", optim).replace("STEPS", str(steps))))


def gen_trace(text: str = GENERATE, verified: bool = True):
    sc = parse_scenario(text)
    trace = build_trace(sc)
    if verified:
        CHECKS[id(trace)] = verify_trace(trace, torch_reference(sc))
    return trace


def blocks(md: str) -> dict[str, str]:
    """Every step id → the markdown block that presents it (a token's pick block presents four)."""
    out = {}
    for part in re.split(r"^(?=#### Steps? )", md, flags=re.M)[1:]:
        part = re.split(r"^#{2,3} ", part, flags=re.M)[0]
        for step_id in re.findall(r"`([a-z]+\.[^`]+)`", part.split("\n\n", 2)[1]):
            out[step_id] = part
    return out


# --- golden documents ---------------------------------------------------------------------------

def test_golden_training(snapshot_md):
    sc = parse_scenario(TRAIN.replace("OPTIM", MOMENTUM).replace("STEPS", "12"))
    trace = build_trace(sc)
    CHECKS[id(trace)] = verify_trace(trace, torch_reference(sc))
    assert render(trace) == snapshot_md


def test_golden_generation(snapshot_md):
    assert render(gen_trace()) == snapshot_md


# --- training -----------------------------------------------------------------------------------

def test_training_section_reads_like_a_worked_example():
    trace = train_trace()
    md = render(trace)
    assert md.index("## What the model predicted") < md.index("## Training") < md.index("## Summary")
    assert "[Prediction](#what-the-model-predicted) · [Training](#training) · [What training did](#what-training-did) · [Summary](#summary)" in md
    assert "| training | momentum (α = 0.1, β = 0.9), 12 updates |" in md
    block = blocks(md)["upd.layers.1.b"]
    worked = worked_line(trace.steps[trace.index_of("upd.layers.1.b")])
    for line in worked.split(";"):  # a single weight's own arithmetic, one line each
        assert "\n" + line.strip() + "\n" in block
    assert "**One entry worked out:** `[x0, h0_1]`" in blocks(md)["upd.layers.0.W"]


def test_update_tables_hold_the_step_arrays():
    trace = train_trace()
    md, p = render(trace, precision=5), 5
    for step in trace.steps:
        if step.phase != "update" or step.id == "upd.curve":
            continue
        order = ["w", "g", *[k for k in step.inputs if k not in ("w", "g")],
                 *[k for k in step.outputs if k != "w'"], "w'"]
        want = np.concatenate([np.ravel({**step.inputs, **step.outputs}[k].value) for k in order])
        got = [cell for table in tables(blocks(md)[step.id]) for row in table[1:] for cell in row[1:]]
        assert len(got) == want.size, step.id
        for cell, x in zip(got, want, strict=True):
            assert_cell(cell, x, p)


@pytest.mark.parametrize("steps", [1, 9, 10, 11, 40])
def test_the_loss_curve_keeps_its_ends(steps):
    trace = train_trace(steps)
    losses = trace.steps[trace.index_of("upd.curve")].outputs["L"].value
    np.testing.assert_array_equal(losses, trace.losses)
    block = blocks(render(trace))["upd.curve"]
    rows = [r for r in tables(block)[0][1:] if r[0] != "⋮"]
    shown = [int(r[0]) for r in rows]
    assert shown == (list(range(steps + 1)) if steps + 1 <= 10 else [*range(5), *range(steps - 4, steps + 1)])
    for r in rows:
        assert_cell(r[1], losses[int(r[0])], 4)
    assert f"from {float(losses[0]):.4g} to {float(losses[-1]):.4g}" in block
    assert ("⋮" in block) == (steps + 1 > 10)


def test_adam_and_sgd_updates_render():
    for kind in ("adam", "sgd"):
        md = render(train_trace(3, f"{{kind: {kind}, lr: 0.01, steps: STEPS}}"))
        assert assert_tables_render(md) > 10
        assert ("m̂ = m' / (1 − β₁^1)" in md) == (kind == "adam")
        assert ("w' = w − α·g = " in md) == (kind == "sgd")


# --- generation ---------------------------------------------------------------------------------

def test_generation_section_follows_each_token():
    trace = gen_trace(verified=False)
    md = render(trace)
    assert "## Generation" in md and "[Generation](#generation)" in md
    assert "| generation | 3 new tokens; temperature τ = 0.7, top-k = 2, top-p = 1; sampled, seed 0 |" in md
    gen = md.split("## Generation", 1)[1]
    assert [int(n) for n in re.findall(r"^### Token (\d+)$", gen, flags=re.M)] == [1, 2, 3]
    generated = " ".join(f"**`{t}`**" for t in trace.generated)
    assert f"**The whole text:** `<bos>` `I` `love` {generated}" in gen
    for n in (2, 3):
        cache = tables(blocks(md)[f"gen.{n}.decode"])[0]
        assert cache[1] == ["0", f"[{n + 2}×4]", f"[{n + 2}×4]"]


def test_distribution_tables_equal_the_trace():
    trace = gen_trace(verified=False)
    md = render(trace, precision=6)
    for n in (1, 2, 3):
        step = {k: trace.steps[trace.index_of(f"gen.{n}.{k}")] for k in ("temperature", "filter", "softmax", "sample")}
        vocab = step["temperature"].inputs["z"].cols
        z, zt = step["temperature"].inputs["z"].value, step["temperature"].outputs["z'"].value
        kept, p = np.isfinite(step["filter"].outputs["z_kept"].value), step["softmax"].outputs["p"].value
        table = tables(blocks(md)[f"gen.{n}.sample"])[0]
        assert table[0] == ["token", "z", "z'", "kept?", "p"]
        chosen = int(step["sample"].outputs["next"].value)
        for row in table[1:]:
            name = row[0].removesuffix(" ← drawn")
            v = vocab.index(name)
            assert (row[0] != name) == (v == chosen)
            assert_cell(row[1], z[v], 6), assert_cell(row[2], zt[v], 6), assert_cell(row[4], p[v], 6)
            assert row[3] == ("✓" if kept[v] else "✗")
        assert [float(r[4]) for r in table[1:]] == sorted((float(r[4]) for r in table[1:]), reverse=True)
        assert f"r = {step['sample'].bindings['r']}" in blocks(md)[f"gen.{n}.sample"]


def test_attention_rows_of_prefill_and_decode_equal_the_trace():
    trace = gen_trace(verified=False)
    md = render(trace)
    for sid in ("gen.prefill", "gen.2.decode", "gen.3.decode"):
        a = trace.steps[trace.index_of(sid)].outputs["A_L0"].value
        table = tables(blocks(md)[sid])[1]
        for row, want in zip(table[1:], a, strict=True):
            for cell, x in zip(row[1:], want, strict=True):
                assert_cell(cell, x, 4)


def test_a_big_vocabulary_keeps_the_ten_likeliest():
    md = render(gen_trace(BIG_VOCAB, verified=False))
    table = tables(blocks(md)["gen.1.sample"])[0]
    assert len(table) == 1 + TOP + 1 and table[-1][0] == "… 8 more"
    assert f"*Showing the {TOP} likeliest of 18 tokens; the other 8 share p = " in md
    assert assert_tables_render(md) > 20


def test_generation_checks_are_collected_per_token():
    md = render(gen_trace())
    assert md.count("**Check:** ✓ all 4 steps agree with torch:") == 3
    assert assert_tables_render(md) > 50


def test_characters_read_as_text_and_a_space_is_visible():
    trace = gen_trace(CHARS, verified=False)
    md = render(trace)
    tail = "".join(trace.generated)
    assert f"**The whole text:** “ab ba” + “{text(tail)}”" in md
    assert "| tokens | input `a` `b` `␣` `b` → targets `b` `␣` `b` `a` (T = 4: the sequence shifted by one) |" in md
    assert "␣" in [row[0].removesuffix(" ← drawn") for row in tables(blocks(md)["gen.1.sample"])[0][1:]]
    assert assert_tables_render(md) > 20


def test_a_failed_check_inside_a_token_block_is_named():
    trace = gen_trace()
    CHECKS[id(trace)] = {**CHECKS[id(trace)], "gen.2.filter": Check("torch.autograd", 0.5, 1e-10, False, "z_kept [3]")}
    block = blocks(render(trace))["gen.2.filter"]
    assert "`gen.2.filter` · **Check:** ✗ **disagrees** with torch: max abs error 0.5" in block
    assert "`gen.2.sample` · **Check:** ✓ agrees" in block and "all 4 steps agree" not in block


def test_filters_keep_whole_tokens_or_single_steps():
    trace = gen_trace(verified=False)
    only = render(trace, only="generate")
    assert "## Forward pass" not in only and "## Generation" in only
    one = render(trace, steps="gen.2.*")
    assert list(blocks(one)) == ["gen.2.decode", "gen.2.temperature", "gen.2.filter", "gen.2.softmax", "gen.2.sample"]
    softmax = render(trace, steps="gen.*.softmax")
    assert tables(blocks(softmax)["gen.1.softmax"])[0][0] == ["token", "p"]


# --- quiz ---------------------------------------------------------------------------------------

def test_quiz_results_make_a_section_and_sit_in_their_steps():
    trace = train_trace(2)
    asked = [(trace.index_of("fwd.loss"), None), (trace.index_of("upd.layers.1.b"), "nonsense")]
    answers = []
    for i, reply in asked:
        q = question_for(trace, i)
        answers.append((q, mark(q, q.answer if reply is None else reply)))
    md = render(trace, answers=answers)
    assert "[Quiz](#quiz) · [Summary](#summary)" in md
    quiz = md.split("## Quiz", 1)[1].split("## Summary", 1)[0]
    assert "**Score: 1 of 2 right (50%).**" in quiz
    rows = tables(quiz)[0]
    assert rows[0] == ["step", "question", "your answer", "✓/✗", "right answer", "why"]
    assert [r[3] for r in rows[1:]] == ["✓", "✗"]
    assert rows[2][0] == f"{trace.index_of('upd.layers.1.b') + 1} · upd.layers.1.b" and rows[2][2] == "nonsense"
    assert "Worth another look: `upd.layers.1.b`." in quiz
    for (q, v), sid in zip(answers, ("fwd.loss", "upd.layers.1.b"), strict=True):
        section = md.split(f"`{sid}`", 1)[1].split("**Check:**", 1)[0]
        assert f"> **Quiz.** {text(q.prompt)}" in section and ("✓ right" if v.ok else "✗ — the answer is") in section
    assert_tables_render(md)


def test_no_quiz_section_without_results():
    md = render(train_trace(2))
    assert "## Quiz" not in md and "> **Quiz.**" not in md
