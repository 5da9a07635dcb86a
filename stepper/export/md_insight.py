"""The export's "What training did": the traced example before and after training, where each head
looks, the FFN units that fire most, and how far each layer moves each token (those three summaries
in md_summaries.py).

A pure function of the Trace: the "after" pass and the summaries come from
`stepper.insight.trained.trained_insight` (the app's heads view calls the same function), computed once
per export from the trace's own config and trained weights, the same on every call. Numbers print through
`table_number`; every choice (the largest change, a top guess) goes through `stepper.roundoff`.
"""

from __future__ import annotations

import numpy as np

from stepper.export.md_summaries import cell, heads_block, layers_block, units_block
from stepper.export.md_tables import label, text, token
from stepper.insight.before_after import changed_entries
from stepper.insight.passes import MAX_EXAMPLES
from stepper.insight.stacks import ATTENTION_NAMES, STACK_NAMES
from stepper.insight.trained import has_trained_model, trained_insight
from stepper.present import insight_words as words
from stepper.present.numbers import table_number
from stepper.roundoff import first_largest, steady_array
from stepper.trace import Trace

SUMMARISED = ("encoder", "decoder", "seq2seq")  # the kinds whose heads, units and layers are summarised
MAX_MAP = 12  # an attention map with more rows than this is summarised by its largest change alone


def insight_section(trace: Trace, precision: int) -> str:
    """The section, or "" when the scenario does not train or its trained weights are not finite."""
    if not trace.trained or not all(np.all(np.isfinite(v)) for v in trace.trained.values()):
        return ""
    log = trace.training
    if not has_trained_model(trace):  # what the overflowing weights compute is round-off's
        return (f"## What training did\n\nTraining stopped at update {log.stopped_at}: with the weights it had "
                "reached, that update's pass made a number that is not finite (see the loss curve above), so "
                "there is no trained model to set beside the untrained one.")
    seen = trained_insight(trace)
    sc, after = seen.scenario, seen.after
    parts = ["## What training did", _intro(trace, sc), _example_block(trace, after, precision)]
    if sc.model.kind != "mlp":
        parts.append(_attention_block(trace, after, precision))
    if sc.model.kind in SUMMARISED:  # a seq2seq's per stack and attention (md_summaries.py)
        norm = (trace.config.get("model") or {}).get("norm")
        parts += [heads_block(seen, precision), units_block(seen, precision), layers_block(seen, norm, precision)]
    return "\n\n".join(filter(None, parts))


def _intro(trace: Trace, sc) -> str:
    n = trace.training.updates if trace.training is not None else len(trace.losses) - 1
    where = ("the first " + str(min(MAX_EXAMPLES, len(sc.data.examples))) + " training examples"
             if sc.data is not None else "the traced example")
    transformer = sc.model.kind in SUMMARISED
    return ("The traced example again, run with the weights training ended with "
            f"({n} update{'s' * (n != 1)}): *before* is the pass above, *after* the same steps with the trained "
            "weights." + (f" Where each head looks and which FFN units fire are measured over {where}, with "
                          "the same forward steps." if transformer else "")
            + " Every number here is computed from this trace's own weights.")


def _prediction_rows(trace: Trace, after: Trace) -> list[tuple[str, float, float]]:
    """(what, before, after) for the loss and what the model predicts of the traced example."""
    b_step, a_step = (t.steps[t.index_of("fwd.loss")] for t in (trace, after))
    rows = [("loss", float(trace.loss), float(after.loss))]
    task, tokens = trace.config["task"], trace.config.get("tokens") or []
    if "p" in b_step.outputs:
        pb, pa = (np.asarray(s.outputs["p"].value, dtype=np.float64) for s in (b_step, a_step))
        cols = b_step.outputs["p"].cols or []
        if pb.ndim == 1:
            rows += [(f"p({text(c)})", pb[j], pa[j]) for j, c in enumerate(cols)]
        elif task["kind"] == "next_token":
            rows += [(f"p({token(tokens[t + 1])}) at {t}", pb[t, cols.index(tokens[t + 1])],
                      pa[t, cols.index(tokens[t + 1])]) for t in range(pb.shape[0])]
        else:
            truth = task.get("labels") or []
            rows += [(f"p({text(c)}) of example {i}", pb[i, cols.index(c)], pa[i, cols.index(c)])
                     for i, c in enumerate(truth)]
    else:
        yb, ya = (np.asarray(s.inputs["ŷ"].value, dtype=np.float64) for s in (b_step, a_step))
        names = [label(r) for r in b_step.inputs["ŷ"].rows] if yb.ndim == 2 and b_step.inputs["ŷ"].rows else None
        for idx in np.ndindex(yb.shape):
            where = names[idx[0]] + (f", {idx[1]}" if yb.shape[1] > 1 else "") if names else ", ".join(map(str, idx))
            rows.append((f"ŷ[{where}]", yb[idx], ya[idx]))
    return rows


def _example_block(trace: Trace, after: Trace, precision: int) -> str:
    rows = _prediction_rows(trace, after)
    lines = ["### The traced example before and after", "", "| | before | after | change |", "|:---|---:|---:|---:|"]
    for what, b, a in rows:
        change = steady_array([a - b], max(abs(a), abs(b)))[0]
        lines.append(f"| {what} | {table_number(b, precision)} | {table_number(a, precision)} | "
                     f"{table_number(change, precision)} |")
    b, a, how = words.compared(trace.loss, after.loss, precision)
    verb = {"less": "fell", "more": "rose", "as much": "stayed"}[how]
    lines += ["", f"The loss of the traced example {verb} from {b} to {a}." + _guesses(trace, after)]
    return "\n".join(lines)


def _guesses(trace: Trace, after: Trace) -> str:
    """The top guess (ties: the first class or token) before and after, where there is one."""
    steps = [t.steps[t.index_of("fwd.loss")] for t in (trace, after)]
    if "p" not in steps[0].outputs or np.ndim(steps[0].outputs["p"].value) != 1:
        return ""
    cols = steps[0].outputs["p"].cols or []
    b, a = (cols[first_largest(steady_array(s.outputs["p"].value))[0]] for s in steps)
    return (f" The top guess is {text(a)} after training" + (", as before." if a == b else f" (before: {text(b)})."))


def _attention_block(trace: Trace, after: Trace, precision: int) -> str:
    out = ["### Attention of the traced example, before → after",
           "Each head's attention weights (rows: the query token, columns: the key it looks at), before "
           "training and after it."]
    for step in (s for s in trace.steps if s.phase == "forward" and s.stage == "softmax" and s.head is not None):
        a_step = after.steps[after.index_of(step.id)]
        b, a = (np.asarray(s.outputs["A"].value, dtype=np.float64) for s in (step, a_step))
        moved = np.abs(changed_entries(step, a_step)["A"])
        q, k = first_largest(moved)
        rows, cols = step.outputs["A"].rows or [], step.outputs["A"].cols or []
        attention = ATTENTION_NAMES.get((step.stack, step.block), "self")
        name = words.attention_head(attention, step.head, STACK_NAMES[step.stack], step.layer)
        out.append(f"**{name[0].upper()}{name[1:]}** (`{step.id}`): the largest change is query "
                   f"{token(rows[q])} (row {q}) looking at {token(cols[k])} (column {k}), "
                   f"{cell(b[q, k], a[q, k], precision)}.")
        if b.shape[0] <= MAX_MAP:
            lines = ["| query \\ key | " + " | ".join(label(c) for c in cols) + " |",
                     "|:---|" + "---:|" * len(cols)]
            lines += [f"| {label(r)} | " + " | ".join(cell(b[i, j], a[i, j], precision) for j in range(len(cols))) + " |"
                      for i, r in enumerate(rows)]
            out.append("\n".join(lines))
    return "\n\n".join(out)
