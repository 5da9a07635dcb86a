"""What the model predicted: the loss of the forward pass, explained for each kind of task.

An mlp may be given a batch (one row of features per example); the loss is then a mean over the
examples, so the table gets one row per example instead of one per class or output.
"""

from __future__ import annotations

import numpy as np

from stepper.export.md_tables import code, label, text, token, token_list
from stepper.present.numbers import table_number
from stepper.roundoff import first_largest


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _examples(trace, n: int) -> list[str]:
    """The engine labels a batch's rows by their features; fall back to a plain count."""
    loss = next((s for s in trace.steps if s.id == "fwd.loss"), None)
    for t in (loss.inputs.values() if loss else ()):
        if t.rows and len(t.rows) == n:
            return [label(r) for r in t.rows]
    return [str(i) for i in range(n)]


def outcome_section(trace, precision: int) -> str:
    task, logits = trace.config.get("task", {}), np.asarray(trace.logits, dtype=np.float64)
    lines = ["## What the model predicted", ""]
    loss = table_number(trace.loss, precision)
    kind = task.get("kind")
    if kind == "classify" and logits.ndim == 2:
        lines += _classify_batch(trace, task, logits, loss, precision)
    elif kind == "classify":
        p = _softmax(logits)
        truth = p[task["classes"].index(task["label"])]
        lines += [f"The model gives the true class {code(task['label'])} a probability of "
                  f"{table_number(truth, precision)}, so the loss is L = −ln {table_number(truth, precision)} = **{loss}**. "
                  "The backward pass above is the recipe for raising that probability.", ""]
        lines += ["| class | logit | probability |", "|:---|---:|---:|"]
        for c, z, q in zip(task["classes"], logits, p, strict=True):
            mark = " (true)" if c == task.get("label") else ""
            lines.append(f"| {text(c)}{mark} | {table_number(z, precision)} | {table_number(q, precision)} |")
    elif kind in ("next_token", "seq2seq"):
        p, vocab, toks = _softmax(logits), trace.config["vocab"], trace.config["tokens"]
        who = ("At each target position the decoder, which also sees the whole source "
               f"{token_list(trace.config.get('source', []))} through cross-attention, guesses the next target token"
               if kind == "seq2seq" else "At each position the model guesses the next token")
        lines += [f"{who}. The loss is the mean of −ln(the "
                  f"probability of the right token) over the {p.shape[0]} positions: **L = {loss}**.", ""]
        lines += ["| position | sees | should predict | its probability | top guess |",
                  "|:---|:---|:---|---:|:---|"]
        for t in range(p.shape[0]):
            guess = vocab[first_largest(p[t])[0]]
            lines.append(f"| {t} | {token_list(toks[:t + 1])} | {token(toks[t + 1])} | "
                         f"{table_number(p[t, vocab.index(toks[t + 1])], precision)} | {token(guess)} |")
    elif kind == "regress":
        target = np.asarray(task.get("target", []), dtype=np.float64)
        lines += [f"The loss is the mean squared error between prediction and target: **L = {loss}**.", ""]
        if logits.ndim == 2 and target.shape == logits.shape:
            lines += ["| example | output | prediction | target |", "|:---|:---|---:|---:|"]
            for name, ys, ts in zip(_examples(trace, logits.shape[0]), logits, target, strict=True):
                lines += [f"| {name} | {j} | {table_number(y, precision)} | {table_number(t, precision)} |"
                          for j, (y, t) in enumerate(zip(ys, ts, strict=True))]
        else:
            lines += ["| output | prediction | target |", "|:---|---:|---:|"]
            for i, (y, t) in enumerate(zip(np.ravel(logits), np.ravel(target), strict=False)):
                lines.append(f"| {i} | {table_number(y, precision)} | {table_number(t, precision)} |")
    else:
        lines.append(f"The loss is **L = {loss}**.")
    return "\n".join(lines)


def _classify_batch(trace, task: dict, logits: np.ndarray, loss: str, precision: int) -> list[str]:
    p, classes, labels = _softmax(logits), task["classes"], task.get("labels") or []
    lines = [f"Each of the {p.shape[0]} examples has its own true class; the loss is the mean of −ln(the "
             f"probability of the true class) over them: **L = {loss}**.", "",
             "| example | true class | its probability | top guess |", "|:---|:---|---:|:---|"]
    for name, row, truth in zip(_examples(trace, p.shape[0]), p, labels, strict=False):
        lines.append(f"| {name} | {code(truth)} | {table_number(row[classes.index(truth)], precision)} | "
                     f"{code(classes[first_largest(row)[0]])} |")
    return lines
