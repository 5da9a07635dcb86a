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


def test_cross_attention_steps_say_which_stream_q_k_and_v_came_from():
    from stepper.present.cross import stream_note

    tr = trace_of("translate_by_hand")
    memory = tr.index_of("fwd.enc.L0.ln2")  # no final norm: the encoder's last LayerNorm is the memory
    note = stream_note(tr, tr.index_of("fwd.dec.L0.cross.softmax"))
    assert note.startswith("Q: 5 rows, one per target token the decoder reads (<bos> me encanta la pizza), "
                           "from the decoder stream; K, V: 3 rows, one per source token (I love pizza), "
                           f"from the memory, the encoder's output (step {memory + 1}).")
    assert "the scores are 5 × 3: a row per target token, a column per source token" in note
    merge = tr.index_of("bwd.enc.memory.merge")
    back = stream_note(tr, tr.index_of("bwd.dec.L0.cross.q"))
    assert f"dK and dV go to the memory, where step {merge + 1} adds up all 2 parts" in back
    assert stream_note(tr, tr.index_of("fwd.dec.L0.self.softmax")) == ""  # self-attention: one stream


def test_cross_attention_grids_have_target_rows_and_source_columns():
    tr = trace_of("translate_by_hand")
    target, source = ["<bos>", "me", "encanta", "la", "pizza"], ["I", "love", "pizza"]
    for part, name in (("scores", "S"), ("mask", "S_masked"), ("softmax", "A")):
        grid = tr.steps[tr.index_of(f"fwd.dec.L0.cross.{part}")].outputs[name]
        assert (grid.rows, grid.cols, grid.shape) == (target, source, (5, 3))
    a = tr.steps[tr.index_of("fwd.dec.L0.cross.softmax")].outputs["A"]
    from stepper.present.captions import axis_caption

    assert axis_caption(tr.steps[tr.index_of("fwd.dec.L0.cross.softmax")], a) == \
        "target token (query) × source token (key)"


def test_each_mask_step_says_which_mask_applies():
    from stepper.present.captions import shown_bindings, where

    tr = trace_of("translate_by_hand")
    said = {sid: shown_bindings(tr.steps[tr.index_of(sid)])["mask"]
            for sid in ("fwd.enc.L0.attn.mask", "fwd.dec.L0.self.mask", "fwd.dec.L0.cross.mask")}
    assert said == {"fwd.enc.L0.attn.mask": "none (every source token sees every source token)",
                    "fwd.dec.L0.self.mask": "causal (each target token sees itself and the target tokens before it)",
                    "fwd.dec.L0.cross.mask": "none (every target token sees every source token)"}
    assert where(tr.steps[tr.index_of("fwd.dec.L0.cross.mask")]) == "Decoder layer 0 · Cross-attention · head 0"


def test_source_pad_keys_are_masked_and_said_so_in_encoder_and_cross_attention(tmp_path):
    from stepper.present.captions import shown_bindings

    text = (SCENARIOS / "translate_by_hand.yaml").read_text().replace(
        'source_text: "I love pizza"', 'source_text: "I love pizza <pad>"')
    (tmp_path / "padded.yaml").write_text(text)
    tr = build_trace(load_scenario(str(tmp_path / "padded.yaml")))
    for sid in ("fwd.enc.L0.attn.mask", "fwd.dec.L0.cross.mask"):
        step = tr.steps[tr.index_of(sid)]
        assert "no source token sees a source <pad>" in shown_bindings(step)["mask"] or \
            "every source token but a <pad>" in shown_bindings(step)["mask"]
        assert step.outputs["S_masked"].cols[-1] == "<pad>" and (step.outputs["S_masked"].value[:, -1] == -float("inf")).all()
    assert shown_bindings(tr.steps[tr.index_of("fwd.dec.L0.self.mask")])["mask"].startswith("causal (")


def test_the_export_has_encoder_decoder_and_head_sections():
    import re

    from stepper.export.markdown import render_markdown

    md = render_markdown(trace_of("translate_by_hand"))
    sections = re.findall(r"^### (.+)$", md, flags=re.M)
    assert sections == ["Encoder · Source embedding", "Encoder · Layer 0", "Decoder · Target embedding",
                        "Decoder · Layer 0", "From the last layer to the loss",
                        "From the loss back to the last layer", "Decoder · Layer 0", "Decoder · Target embedding",
                        "Encoder · Memory", "Encoder · Layer 0", "Encoder · Source embedding",
                        "Shared embedding table"]
    forward = md.split("## Backward pass")[0]
    blocks = re.findall(r"^\*\*(Self-attention|Self-attention \(causal\)|Cross-attention|FFN)\*\*$", forward, flags=re.M)
    assert blocks == ["Self-attention", "FFN", "Self-attention (causal)", "Cross-attention", "FFN"]
    assert "**Streams:** Q: 5 rows, one per target token" in md
    assert "| layers | 1 encoder, 1 decoder |" in md
    assert "`S` [5×3] (target tokens (queries) × source tokens (keys))" in md
