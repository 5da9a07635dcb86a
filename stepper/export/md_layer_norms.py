"""The training section's table of each layer's gradient norm (TrainingLog.layer_grad_norm): a row per
sampled update (each epoch's last, at most present.layer_norms.MAX_ROWS), a column per group."""

from __future__ import annotations

import math

from stepper.export.md_tables import text
from stepper.present.layer_norms import group_label, sampled_updates
from stepper.present.numbers import table_number
from stepper.trace import Trace


def layer_norm_block(trace: Trace, precision: int) -> str:
    log = trace.training
    if log is None or not log.updates or not log.layer_grad_norm:
        return ""
    data = trace.config.get("data") or {}
    n = len(data.get("examples") or ()) or 1
    per_epoch = max(1, math.ceil(n / data.get("batch_size", n)))
    groups = list(log.layer_grad_norm)
    rows = sampled_updates(log, per_epoch)
    named = [said for group, said in (("embed", "embed: the embeddings"),
                                      ("head", "head: what follows the last layer, its final norm and output head"))
             if group in groups]
    lines = ["### The gradient norm of each layer", "",
             "The L2 norm of dLoss/dθ over each layer's parameters alone, before weight decay and clipping ("
             + "; ".join(["L*i*: layer *i*", *named]) + "), at the last update of "
             + ("each epoch" if len(rows) == -(-log.updates // per_epoch) else "some of the epochs")
             + ". Their squares add up to the square of the total gradient norm. The JSON export has every update "
             "(`training.layer_grad_norm`); torch's own training run checks each one.", "",
             "| update | epoch | " + " | ".join(text(group_label(g)) for g in groups) + " |",
             "|---:|---:|" + "---:|" * len(groups)]
    for t in rows:
        cells = " | ".join(table_number(float(log.layer_grad_norm[g][t]), precision) for g in groups)
        lines.append(f"| {t + 1} | {t // per_epoch + 1} | {cells} |")
    return "\n".join(lines)
