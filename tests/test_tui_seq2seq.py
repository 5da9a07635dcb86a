"""Pilot tests of an encoder–decoder in the app: the pipeline's Encoder / Decoder grouping, the key that jumps
between a decoder layer's cross-attention and the encoder output (the memory) it reads, and the words
that say which stream Q, K and V came from."""

from __future__ import annotations

from pathlib import Path

from tui_helpers import main_screen, record_notices, screen_lines, screen_text

from stepper.engine import build_trace
from stepper.scenario import load_scenario
from stepper.tui.app import StepperApp
from stepper.tui.widgets.pipeline import PipelineList

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def make_app(name: str = "translate_by_hand") -> StepperApp:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    return StepperApp(scenario, build_trace(scenario), verify=False)


def current(app) -> str:
    screen = main_screen(app)
    return screen.trace.steps[screen.index].id


async def go(app, pilot, step_id: str) -> None:
    screen = main_screen(app)
    screen.go_to(screen.trace.index_of(step_id))
    await pilot.pause()


def pipeline_lines(app) -> list[str]:
    """The pipeline list as it is on screen, one row per line, right-trimmed."""
    region = app.screen.query_one(PipelineList).scrollable_content_region  # without its scrollbar
    return [line.rstrip() for line in screen_lines(app, region)]


async def test_the_pipeline_shows_the_encoder_then_the_decoder_with_their_blocks():
    app = make_app()
    async with app.run_test(size=(180, 40)) as pilot:  # wide: the list has room for whole titles
        await pilot.pause()
        top = [line.strip() for line in pipeline_lines(app)]
        assert top[:5] == ["FORWARD", "Encoder", "Source embedding", "· Token embedding (source)",
                           "· Positional encoding (source)"]
        assert top[5:8] == ["Layer 0", "Self-attention", "· Q projection"]
        await go(app, pilot, "fwd.dec.L0.self.v")  # centred: the decoder's heading above, its cross-attention below
        shown = [line.strip() for line in pipeline_lines(app)]
        assert "Decoder" in shown and "Self-attention (causal)" in shown and "Cross-attention" in shown
        assert shown.index("Self-attention (causal)") < shown.index("Cross-attention")
        # the stack's heading sits one level out from its group, the group from its block
        lines = pipeline_lines(app)
        indent = {text.strip(): len(text) - len(text.lstrip()) for text in lines if text.strip()}
        assert indent["Decoder"] < indent["Layer 0"] < indent["Cross-attention"]


async def test_m_jumps_from_cross_attention_to_the_memory_and_back():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await go(app, pilot, "fwd.dec.L0.cross.softmax")
        text = screen_text(app)
        assert "Q: 5 rows, one per target token the decoder reads" in " ".join(text.split())
        await pilot.press("m")
        assert current(app) == "fwd.enc.L0.ln2"  # the encoder's output: no final norm in this file
        assert "Encoder layer 0" in screen_text(app)
        await pilot.press("m")
        assert current(app) == "fwd.dec.L0.cross.softmax"  # back where it came from
        # backward: from the cross-attention's gradient to the step that sums the memory's, and back
        await go(app, pilot, "bwd.dec.L0.cross.k")
        await pilot.press("m")
        assert current(app) == "bwd.enc.memory.merge"
        await pilot.press("m")
        assert current(app) == "bwd.dec.L0.cross.k"


async def test_m_on_the_memory_reached_otherwise_goes_to_its_first_reader_and_elsewhere_says_what_it_does():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        notices = record_notices(app)
        await go(app, pilot, "fwd.enc.L0.ln2")
        await pilot.press("m")
        assert current(app) == "fwd.dec.L0.cross.k"  # the first step that reads the memory
        await go(app, pilot, "fwd.dec.L0.self.softmax")
        await pilot.press("m")
        assert current(app) == "fwd.dec.L0.self.softmax"
        assert any("cross-attention" in message for _, message in notices)


async def test_the_memory_key_is_in_help_and_only_in_an_encoder_decoders_footer():
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert "memory ↔ cross-attn" in screen_text(app).splitlines()[-1]
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "memory ↔ cross-attn" in text and "memory" in text
    mini = make_app("mini")
    async with mini.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert "memory" not in screen_text(mini).splitlines()[-1]
