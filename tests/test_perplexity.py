"""Perplexity, exp(mean cross-entropy), beside every cross-entropy: recorded on the loss step, checked
against torch's exp of its loss, said in the check line, the training summary, the curve and the app."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stepper import cli
from stepper.engine import build_trace
from stepper.export.markdown import render_markdown
from stepper.present.training_view import update_figures, update_views
from stepper.present.worked import worked_line
from stepper.scenario import load_scenario
from stepper.verify import entry


def trace_of(name: str):
    return build_trace(load_scenario(f"scenarios/{name}.yaml"))


@pytest.mark.parametrize("name", ["mini", "char_gpt", "xor_gelu", "tiny_sentiment_train", "pizza_decoder"])
def test_every_cross_entropy_s_loss_step_records_its_perplexity(name):
    trace = trace_of(name)
    step = trace.steps[trace.index_of("fwd.loss")]
    if trace.config["task"]["kind"] == "regress":  # a mean squared error has none
        assert "PPL" not in step.outputs
        return
    ppl = step.outputs["PPL"]
    assert ppl.key == "perplexity" and float(ppl.value) == math.exp(float(step.outputs["L"].value))


def test_the_loss_step_s_worked_line_says_what_the_perplexity_means():
    trace = trace_of("mini")
    step = trace.steps[trace.index_of("fwd.loss")]
    line = worked_line(step)
    value = float(step.outputs["PPL"].value)
    assert line.startswith("PPL = e^0.257297 = 1.29343") and "uniform pick among 1.293 of 2 choices" in line
    assert abs(value - 1.29343) < 1e-5


def test_a_wrong_perplexity_disagrees_with_torch(monkeypatch, capsys):
    """The reference computes torch.exp(loss) under the same key: the check covers it."""
    def broken(scenario):
        trace = build_trace(scenario)
        step = next(s for s in trace.steps if s.id == "fwd.loss")
        step.outputs["PPL"].value = step.outputs["PPL"].value + 1e-6
        return trace

    monkeypatch.setattr(entry, "build_trace", broken)
    monkeypatch.setattr(entry, "usable_cores", lambda: 1)
    assert cli.main(["check", "scenarios/mini.yaml"]) == 1
    out = capsys.readouterr().out
    assert "✗ fwd.loss" in out


def test_check_training_summary_and_curve_say_the_perplexity(capsys):
    assert cli.main(["check", "-q", "scenarios/tiny_sentiment_train.yaml"]) == 0
    out = capsys.readouterr().out
    assert "(perplexity 1.292)" in out  # exp(0.256383), after the traced loss
    assert "batch loss 0.8608 → 0.07502 (perplexity 2.365 → 1.078)" in out
    trace = trace_of("tiny_sentiment_train")
    text = render_markdown(trace)
    assert "| L_k | perplexity e^L_k | change |" in text and "| 0 | 0.8608 | 2.365 |  |" in text


def test_the_training_screen_s_figures_say_the_perplexity_of_a_cross_entropy_only():
    trace = trace_of("tiny_sentiment_train")
    first = update_views(trace.training, trace.config)[0]
    figures = dict(update_figures(first, None))
    assert figures["batch loss"] == f"0.8608 (perplexity {np.exp(0.860769):.4g})"
    regress = trace_of("xor_gelu")
    if regress.training is not None and regress.config["task"]["kind"] == "regress":
        plain = dict(update_figures(update_views(regress.training, regress.config)[0], None))
        assert "perplexity" not in plain["batch loss"]


def test_a_perplexity_over_the_number_of_choices_is_called_worse_than_a_guess():
    trace = trace_of("char_gpt")  # random weights, 8 characters: the lesson says they are confidently wrong
    line = worked_line(trace.steps[trace.index_of("fwd.loss")])
    assert "more than a blind guess among the 8 there are: confidently wrong" in line
