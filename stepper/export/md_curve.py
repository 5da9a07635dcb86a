"""The loss curve of a training run: a table of L_k with the middle of a long run left out, and a verdict.

The verdict says where the loss went, and, when it did not fall every time, how often it rose and
where it was lowest: a momentum run that overshoots is worth noticing, not hiding.
"""

from __future__ import annotations

import numpy as np

from stepper.export.md_steps import Findings, check_line, heading, lesson_line, math_block, prose
from stepper.export.md_tables import code
from stepper.present.numbers import table_number
from stepper.present.perplexity import is_cross_entropy
from stepper.present.perplexity import perplexity as perplexity_of
from stepper.present.verdicts import divergence_words
from stepper.roundoff import NOISE, steady_array
from stepper.trace import Step, Trace

CURVE_EDGE = 5  # a long curve keeps its first and last this many losses
SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60


def curve_block(step: Step, number: int, trace: Trace, precision: int, found: Findings) -> str:
    losses = np.asarray(step.outputs["L"].value, dtype=np.float64)
    n = losses.size - 1
    batches = step.outputs["L"].key == "train.batch_losses"  # a data set: L_k is update k's batch loss
    verdict = (_diverged(trace, losses, precision) if trace.diverged else
               _batch_verdict(losses, precision) if batches else _verdict(losses, precision))
    parts = [heading(step, number, 1), code(step.id), math_block(step.formula.latex), verdict]
    keep = list(range(n + 1)) if n + 1 <= 2 * CURVE_EDGE else [*range(CURVE_EDGE), None,
                                                                *range(n + 1 - CURVE_EDGE, n + 1)]
    ce = is_cross_entropy(trace.config)  # a cross-entropy's perplexity e^L_k beside it
    ppl_head, ppl_rule = (" perplexity e^L_k |", "---:|") if ce else ("", "")
    lines = [("| k: batch of update k, after k updates | L_k |" if batches else "| after k updates | L_k |")
             + ppl_head + " change |", "|---:|---:|" + ppl_rule + "---:|"]
    for k in keep:
        if k is None:
            lines.append("| ⋮ | ⋮ |" + (" ⋮ |" if ce else "") + " ⋮ |")
            continue
        # a change to or from inf or NaN is no number to print
        change = "" if k == 0 or not np.isfinite(losses[k - 1:k + 1]).all() else _signed(
            losses[k] - losses[k - 1], precision)
        perplexity = f" {table_number(perplexity_of(float(losses[k])), precision)} |" if ce else ""
        lines.append(f"| {k} | {table_number(losses[k], precision)} |{perplexity} {change} |")
    parts.append("\n".join(lines))
    if None in keep:
        parts.append(f"*L_{CURVE_EDGE} … L_{n - CURVE_EDGE} are left out; the JSON export has every one.*")
    if n >= 2:
        parts.append(f"The whole curve, L_0 to L_{n}: `{_sparkline(losses)}`")
    parts.append(prose(step.formula.meaning))
    if step.lesson:
        parts.append(lesson_line(step.lesson, trace, whatif=found.whatif))
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(parts)


def _signed(x: float, precision: int) -> str:
    s = table_number(x, precision)
    return s if s.startswith("-") or s == "0" else "+" + s


def _diverged(trace: Trace, losses: np.ndarray, precision: int) -> str:
    """Training that overflowed: which update did it and where, rather than a loss that 'went' to NaN."""
    last = int(np.argmax(~np.isfinite(losses))) - 1 if not np.isfinite(losses).all() else losses.size - 1
    return (f"**Training diverged.** {prose(divergence_words(trace.diverged))} The last finite loss was "
            f"L_{last} = {table_number(losses[last], precision)}.")


def _verdict(losses: np.ndarray, precision: int) -> str:
    n, first, last = losses.size - 1, losses[0], losses[-1]
    if n == 0:
        return f"No update was taken: the loss stays at {table_number(first, precision)}."
    change = "fell" if last < first else "rose" if last > first else "stayed"
    pct = ""
    if first != 0 and np.isfinite([first, last]).all() and last != first:
        pct = f" ({'down' if last < first else 'up'} {abs(100 * (last - first) / first):.0f}%)"
    line = (f"**The loss {change} from {table_number(first, precision)} to {table_number(last, precision)}{pct} "
            f"in {n} update{'s' * (n != 1)}.**")
    # wobbles below NOISE are round-off, and round-off differs between machines: they do not count
    rises = int(np.sum(np.diff(losses) > NOISE))
    if rises and n > 1:
        best = int(np.argmax(losses <= np.min(losses) + NOISE))  # the first to reach it, not a round-off tie
        low = (f"the lowest value was L_{best} = {table_number(losses[best], precision)}" if losses[best] >= NOISE else
               f"it first got below {NOISE:g} at L_{int(np.argmax(losses < NOISE))}")
        line += f" Not every update helped: the loss went up on {rises} of them, and {low}."
    return line


def _batch_verdict(losses: np.ndarray, precision: int) -> str:
    """Batch losses: each batch holds other examples, so only the trend is read, over the first and last
    few batches (a quarter of the run each, at most one epoch's worth is not known here: up to 5)."""
    k = max(1, min(CURVE_EDGE, losses.size // 4))
    early, late = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    change = "fell" if late < early else "rose" if late > early else "stayed"
    return (f"**The batch loss {change}: the first {k} batch{'es' * (k != 1)} averaged {table_number(early, precision)}, "
            f"the last {k} {table_number(late, precision)}.** Single batches jump up and down because each holds "
            "different examples; the validation step, when there is one, measures the same examples every time.")


def validation_block(step: Step, number: int, trace: Trace, precision: int, found: Findings) -> str:
    """The validation loss (and accuracy) after each epoch, in a table."""
    v = np.asarray(step.outputs["V"].value, dtype=np.float64)
    acc = step.outputs.get("acc")
    after = step.outputs["V"].cols or [str(i) for i in range(v.size)]
    head = "| epoch | updates done | V_e |" + (" accuracy |" if acc is not None else "")
    lines = [head, "|---:|---:|---:|" + ("---:|" if acc is not None else "")]
    for e in range(v.size):
        row = f"| {e + 1} | {after[e].removeprefix('after ')} | {table_number(v[e], precision)} |"
        if acc is not None:
            row += f" {table_number(float(acc.value[e]), precision)} |"
        lines.append(row)
    best = int(np.argmax(v <= np.min(v) + NOISE))
    words = (f"The validation loss went from {table_number(v[0], precision)} after epoch 1 to "
             f"{table_number(v[-1], precision)} after epoch {v.size}; it was lowest after epoch {best + 1}.")
    if best + 1 < v.size and v[-1] > v[best] + NOISE:
        words += " It rose after that while training went on: the model began to fit its training batches " \
                 "better than examples it never saw."
    parts = [heading(step, number, 1), code(step.id), math_block(step.formula.latex), words, "\n".join(lines),
             prose(step.formula.meaning)]
    if step.lesson:
        parts.append(lesson_line(step.lesson, trace, whatif=found.whatif))
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(parts)


def _sparkline(losses: np.ndarray) -> str:
    """A one-line picture of the curve; a long run is sampled evenly so the line stays short."""
    pick = np.unique(np.linspace(0, losses.size - 1, min(losses.size, SPARK_WIDTH)).round().astype(int))
    y = steady_array(losses[pick])  # a curve flat up to round-off draws flat on every machine
    lo, hi = float(np.min(y)), float(np.max(y))
    if not np.isfinite([lo, hi]).all() or hi == lo:
        return SPARK[3] * y.size
    return "".join(SPARK[int(round((v - lo) / (hi - lo) * (len(SPARK) - 1)))] for v in y)
