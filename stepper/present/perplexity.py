"""Perplexity, exp(mean cross-entropy), beside every cross-entropy loss the app and the export show.

A loss of 0.693 means little to a learner; "as unsure as a fair pick between 2" means a lot. The
loss step records it (the `perplexity` key, checked against torch like the loss); a curve or a
summary line, whose losses are plain numbers, gets it here.
"""

from __future__ import annotations

import math

from stepper.roundoff import steady

CROSS_ENTROPY_TASKS = ("classify", "next_token", "seq2seq")  # a regression's MSE has no perplexity


def perplexity(loss: float) -> float:
    """exp(loss); inf past what a float holds, NaN for NaN."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def is_cross_entropy(config: dict) -> bool:
    return (config.get("task") or {}).get("kind") in CROSS_ENTROPY_TASKS


def ppl(loss: float) -> str:
    """The perplexity of `loss` at 4 significant digits, the way the losses beside it are written."""
    value = perplexity(float(loss))
    return f"{steady(value):.4g}" if math.isfinite(value) else str(value)


def meaning(loss: float, choices: int | None = None) -> str:
    """`as unsure as a uniform pick among 1.53 of 2 choices`: what the number says. Over the number of
    choices, the model does worse than a blind guess: it is sure of wrong answers."""
    value = perplexity(float(loss))
    if choices and value > choices:
        return (f"as surprised as a uniform pick among {ppl(loss)} choices, more than a blind guess among the "
                f"{choices} there are: confidently wrong")
    among = f"{ppl(loss)} of {choices} choices" if choices else f"{ppl(loss)} choices"
    return f"as unsure as a uniform pick among {among}"


def with_perplexity(config: dict, loss: float, text: str) -> str:
    """`text` (a loss as written) followed by its perplexity, when the loss is a cross-entropy."""
    return f"{text} (perplexity {ppl(loss)})" if is_cross_entropy(config) else text
