"""Words and labels a learner reads: nothing Python-shaped or half-phrased reaches the screen."""

from __future__ import annotations

import re

import pytest

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


def _shown_values(heat) -> int:
    rows = [i for i in heat.show_rows if i is not None]
    cols = [j for j in heat.show_cols if j is not None]
    return len(rows) * len(cols)


@pytest.mark.parametrize("max_width", [24, 40, 53, 80])
@pytest.mark.parametrize("max_rows", [4, 12])
def test_a_short_vector_is_never_elided(max_width, max_rows):
    """char_gpt's `p [8]` hid `n = 0.177`, so the probabilities on screen did not sum to 1."""
    import numpy as np
    from textual.color import Color

    from stepper.tui.heatmap import Heatmap, Palette

    vocab = ["<pad>", " ", "b", "e", "n", "o", "r", "t"]
    p = np.array([0.0, 0.105, 0.032, 0.231, 0.177, 0.2, 0.155, 0.1])
    for rows, cols in ((None, vocab), (vocab, None)):  # a row of tokens, and a column of them
        heat = Heatmap(p, rows=rows, cols=cols, title="p [8]", palette=Palette(Color(0, 0, 0)),
                       max_width=max_width, max_rows=max_rows)
        assert _shown_values(heat) == 8 and heat.width <= max(max_width, len("p [8]"))
    column = np.linspace(-1, 1, 16)
    heat = Heatmap(column, rows=[f"f{j}" for j in range(16)], cols=None, title="db_1 [16]",
                   palette=Palette(Color(0, 0, 0)), max_width=max_width, max_rows=max_rows)
    assert _shown_values(heat) == 16
    longer = Heatmap(np.linspace(-1, 1, 40), rows=[f"f{j}" for j in range(40)], cols=None, title="b [40]",
                     palette=Palette(Color(0, 0, 0)), max_width=max_width, max_rows=max_rows)
    assert _shown_values(longer) < 40  # a long one still fits the screen
