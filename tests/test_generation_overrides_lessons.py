"""A lesson about generation quotes the scenario's own τ, top-k and samples; run with other ones from the
command line, it is marked as written for other settings (as a what-if edit marks every lesson)."""

from __future__ import annotations

from pathlib import Path

from stepper.engine import build_trace
from stepper.export.markdown import render_markdown as to_markdown
from stepper.present.provenance import stale_lesson
from stepper.scenario import load_scenario as load
from stepper.tui.parts import meaning_parts

CHAR_GPT = Path(__file__).resolve().parent.parent / "scenarios" / "char_gpt.yaml"
NOTE = "written for the scenario's own generation settings"


def _plain(parts) -> str:
    return "".join(p if isinstance(p, str) else p[0] for p in parts)


def test_overridden_generation_marks_the_generation_lessons():
    tr = build_trace(load(str(CHAR_GPT), generation={"temperature": 0.7}))
    assert tr.overrides == "--temperature 0.7"
    gen = next(s for s in tr.steps if s.phase == "generate" and s.lesson)
    fwd = next(s for s in tr.steps if s.phase == "forward" and s.lesson)
    assert NOTE in _plain(meaning_parts(gen, stale=stale_lesson(tr, gen)))
    assert NOTE not in _plain(meaning_parts(fwd, stale=stale_lesson(tr, fwd)))  # the forward pass is as written
    md = to_markdown(tr)
    assert NOTE in md and "--temperature 0.7" in md


def test_the_scenario_as_written_marks_nothing():
    tr = build_trace(load(str(CHAR_GPT)))
    assert tr.overrides == "" and all(not stale_lesson(tr, s) for s in tr.steps)
    assert NOTE not in to_markdown(tr)


def test_a_flag_that_repeats_the_file_changes_nothing():
    tr = build_trace(load(str(CHAR_GPT), generation={"temperature": 0.8}))  # the file's own τ
    assert tr.overrides == ""
