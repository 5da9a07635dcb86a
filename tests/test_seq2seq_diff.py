"""`stepper diff` of two encoder–decoders: every step paired by id across both stacks, what differs said
(the source as well as the target), and the diff app's list grouped Encoder / Decoder as the stepper's."""

from __future__ import annotations

import re
from pathlib import Path

from tui_helpers import screen_text

from stepper.diff import diff_traces
from stepper.engine import build_trace
from stepper.export.md_diff import render_diff_markdown
from stepper.scenario import load_scenario, parse_scenario
from stepper.tui.diff_app import DiffApp

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
TRANSLATE = SCENARIOS / "translate_by_hand.yaml"


def pair(change: tuple[str, str]):
    a = load_scenario(TRANSLATE)
    b = parse_scenario(TRANSLATE.read_text().replace(*change))
    return a, b, build_trace(a), build_trace(b)


def test_two_seq2seq_files_pair_every_step_of_both_stacks():
    _, _, ta, tb = pair(("seed: 0", "seed: 1"))
    d = diff_traces(ta, tb)
    assert not d.only_a and not d.only_b and len(d.paired) == len(ta.steps) == 105
    ids = [sd.step_id for sd in d.paired]
    assert ids == [s.id for s in ta.steps]  # in trace order: the encoder, the decoder, then backward
    assert {"bwd.enc.memory.merge", "bwd.embed.merge", "fwd.dec.L0.cross.softmax"} <= set(ids)
    cross = next(sd for sd in d.paired if sd.step_id == "fwd.dec.L0.cross.softmax")
    assert cross.outputs[0].delta.shape == (5, 3)  # target rows × source columns on both sides
    md = render_diff_markdown(d, traces=(ta, tb))
    assert re.search(r"\| Decoder cross-attention: Softmax over each row \| `fwd.dec.L0.cross.softmax` \|", md)


def test_a_changed_source_is_said_and_only_what_reads_it_moves():
    _, _, ta, tb = pair(('source_text: "I love pizza"', 'source_text: "pizza love I"'))
    d = diff_traces(ta, tb)
    assert "the sources differ: I love pizza vs pizza love I" in d.notes
    moved = {sd.step_id for sd in d.paired if sd.max_abs != 0.0}
    assert "fwd.enc.embed" in moved and "fwd.dec.L0.cross.k" in moved
    # the decoder's own stream is untouched until cross-attention reads the memory
    assert not {"fwd.dec.embed", "fwd.dec.L0.self.softmax", "fwd.dec.L0.ln1", "fwd.dec.L0.cross.q"} & moved


async def test_the_diff_app_lists_the_steps_under_encoder_and_decoder():
    a, b, ta, tb = pair(("seed: 0", "seed: 1"))
    app = DiffApp(a, b, (ta, tb))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lines = [line.strip() for line in screen_text(app).splitlines()]
        assert any(line.startswith("Encoder") for line in lines)
        assert any(line.startswith("Source embedding") for line in lines)
        assert any(line.startswith("Self-attention") for line in lines)
        await pilot.press("q")
