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
