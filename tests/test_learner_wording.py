"""Words and labels a learner reads: nothing Python-shaped or half-phrased reaches the screen."""

from __future__ import annotations

import re

from stepper.engine import build_trace
from stepper.scenario import load_scenario


def test_an_identity_activation_is_called_no_activation():
    # only an mlp may go without one (a transformer's FFN must bend)
    steps = [s for s in build_trace(load_scenario("scenarios/xor_linear.yaml")).steps if s.stage == "activation"]
    assert len(steps) >= 2
    for step in steps:
        assert not re.search(r"\bnone\b", step.title), step.title
        assert "no activation" in step.title, step.title


def test_a_whitespace_token_is_labelled_by_one_rule_in_every_table():
    """A space is ␣ (a newline ⏎) wherever a token labels a row or column: the heatmaps, the markdown
    tables and the KV cache's `token@position` labels alike."""
    from stepper.export.md_tables import label as md_label
    from stepper.tui.heatmap import _label as tui_label

    trace = build_trace(load_scenario("scenarios/char_gpt.yaml"))
    labels = {lab for s in trace.steps for t in [*s.inputs.values(), *s.outputs.values()]
              for lab in [*(t.rows or []), *(t.cols or [])]}
    spaced = sorted(lab for lab in labels if " " in lab)
    assert " " in spaced and any(lab.startswith(" @") for lab in spaced), spaced  # a token, a cache row
    for lab in spaced:
        assert " " not in tui_label(lab) and "␣" in tui_label(lab), (lab, tui_label(lab))
        assert " " not in md_label(lab) and "␣" in md_label(lab), (lab, md_label(lab))
    assert md_label("\n") == tui_label("\n") == "⏎"
