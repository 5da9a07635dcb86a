"""The training phase as a worked example: the first update of every parameter, then the loss curve.

Each update reads like a page of hand-worked notes: the weights before, the gradient the backward
pass left, the optimizer's memory before and after, the weights after, and the rule with one
entry's numbers plugged in. Every number in a table is an array of the step; the worked lines only
combine those numbers with the hyperparameters the engine recorded.
"""

from __future__ import annotations

import numpy as np

from stepper.export.md_curve import curve_block, validation_block
from stepper.export.md_layer_norms import layer_norm_block
from stepper.export.md_steps import (
    Axes,
    Findings,
    check_line,
    heading,
    lesson_line,
    math_block,
    prose,
    tensor_block,
)
from stepper.export.md_tables import code, table, text
from stepper.present.captions import shown_bindings
from stepper.present.numbers import table_number
from stepper.present.worked import worked_line
from stepper.roundoff import denoised, first_largest
from stepper.trace import Step, Tensor, Trace

STATE = {"v": "velocity", "m": "first moment", "s": "second moment"}


def training_section(trace: Trace, chosen: list[tuple[int, Step]], axes: Axes, precision: int,
                     quiz: dict[str, str], found: Findings) -> str:
    out = ["## Training", _intro(trace)]
    for n, step in chosen:
        if step.id == "upd.curve":
            out += [curve_block(step, n, trace, precision, found), layer_norm_block(trace, precision)]
        elif step.id == "upd.validation":
            out.append(validation_block(step, n, trace, precision, found))
        else:
            out.append(update_block(step, n, trace, axes, precision, quiz.get(step.id, ""), found))
    return "\n\n".join(filter(None, out))


def _hyper(step: Step, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{text(k)} = {text(v)}" for k, v in shown_bindings(step).items() if k not in skip)


def _intro(trace: Trace) -> str:
    updates = [s for s in trace.steps if s.phase == "update" and s.part not in ("curve", "validation")]
    curve = next((s for s in trace.steps if s.id == "upd.curve"), None)
    log = trace.training
    how, n = "", log.updates if log is not None else 0
    on_data = bool(trace.config.get("data"))
    if curve is not None:
        name = curve.bindings.get("optimizer", "the optimizer")
        hyper = _hyper(updates[0], ("t",)) if updates else ""  # t is the update's own count
        how = (f" Here the optimizer is {text(name)}" + (f" ({hyper})" if hyper else "")
               + f", run for {n} update{'s' * (n != 1)}.")
    later = (" Later updates repeat the same arithmetic with fresh gradients; the loss curve at the end "
             "shows where they lead." if n > 1 else
             " The loss curve at the end compares the loss before and after." if n == 1 else "")
    source = ("the gradient of the first batch's loss (not the traced example's alone: the batch is what the "
              "optimizer steps on)" if on_data else "the gradient from the backward pass")
    if updates and "clip" in updates[0].bindings:
        source += ", scaled by the clipping factor"
    if updates and "λ" in updates[0].bindings and updates[0].bindings.get("decay") != "decoupled":
        source += ", plus the weight decay λ·w"
    still = ""
    if log is not None and log.updates and log.lr[0] == 0:
        still = (" With warm-up the first update's learning rate is 0, so no weight moves yet; the optimizer's "
                 "memory is still updated, and later updates grow their step as the schedule rises.")
    return ("With every gradient known, the optimizer moves each parameter a small step downhill." + how +
            f" The {'first ' if n > 1 else ''}update is worked out parameter by parameter: the weights "
            f"before, {source}, the optimizer's memory before and after, and the weights after." + still + later)


def _kind(step: Step) -> str | None:
    state = {k for k in step.inputs if k not in ("w", "g")}
    if "g" not in step.inputs or "w'" not in step.outputs or "α" not in step.bindings:
        return None
    return {frozenset({"v"}): "momentum", frozenset({"m", "s"}): "adam", frozenset(): "sgd"}.get(frozenset(state))


def _ordered(step: Step) -> list[tuple[str, str, Tensor]]:
    """(role, symbol, tensor) in reading order: before, gradient, memory before, memory after, after."""
    rows = []
    for name, t in step.inputs.items():
        role = {"w": "Before", "g": "Gradient"}.get(name, f"{STATE.get(name, name).capitalize()} before")
        rows.append((role, name, t))
    for name, t in step.outputs.items():
        if name != "w'":
            state = name.removesuffix("'")
            rows.append((f"{STATE.get(state, state).capitalize()} after", name, t))
    rows += [("After", name, t) for name, t in step.outputs.items() if name == "w'"]
    return rows


def update_block(step: Step, number: int, trace: Trace, axes: Axes, precision: int, quiz: str,
                 found: Findings) -> str:
    parts = [heading(step, number, 1), code(step.id), math_block(step.formula.latex)]
    hyper = _hyper(step)
    if hyper:
        parts.append(f"**With** {hyper}.")
    worked = worked_line(step)
    if worked:  # a single weight is spelled out whole; show its own arithmetic, line by line
        parts.append("**Worked out** (this parameter is a single number):\n\n```\n"
                     + "\n".join(line.strip() for line in worked.split(";")) + "\n```")
    else:
        parts.append(_worked_entry(step, precision))
    if quiz:
        parts.append(quiz)
    ordered = _ordered(step)
    entries = _entry_labels(ordered[0][2])
    if entries is not None and all(t.shape == ordered[0][2].shape for _, _, t in ordered):
        parts.append(_vector_table(step, ordered, entries, precision))
    else:
        parts += [tensor_block(step, role, name, t, axes, precision) for role, name, t in ordered]
    parts.append(prose(step.formula.meaning))
    if step.lesson:
        parts.append(lesson_line(step.lesson, trace, whatif=found.whatif))
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(filter(None, parts))


def _entry_labels(t: Tensor) -> list[str] | None:
    """Names for the entries of a parameter that is a line of numbers (a vector, or a one-row or
    one-column matrix); None for a real matrix, which needs a table per version."""
    v = np.asarray(t.value)
    if v.ndim <= 1:
        return t.cols or t.rows or [str(j) for j in range(v.size)]
    if v.ndim == 2 and 1 in v.shape:  # weight [i, j] joins input i to output j
        rows = t.rows or [str(i) for i in range(v.shape[0])]
        cols = t.cols or [str(j) for j in range(v.shape[1])]
        return [f"{r}→{c}" for r in rows for c in cols]
    return None


def _vector_table(step: Step, ordered, entries: list[str], precision: int) -> str:
    """A parameter that is a line of numbers: all its versions as rows of one table, read top down."""
    values = np.stack([np.ravel(np.asarray(t.value, dtype=np.float64)) for _, _, t in ordered])
    rows = [f"{name} ({role[0].lower() + role[1:]})" for role, name, _ in ordered]
    body, note = table(code(step.id.removeprefix("upd.")), values, rows, entries, precision)
    return body + (f"\n\n*{note}*" if note else "")


def _worked_entry(step: Step, precision: int) -> str:
    """The rule for the entry with the largest gradient (the one that moves most), numbers plugged in."""
    kind = _kind(step)
    if kind is None:
        return ""
    g = np.asarray(step.inputs["g"].value, dtype=np.float64)
    if g.size == 0:
        return ""
    idx = first_largest(np.abs(g))  # a tie up to round-off goes to the first entry, on every machine
    at = {name: float(np.asarray(t.value)[idx]) for name, t in [*step.inputs.items(), *step.outputs.items()]}
    t = step.inputs["g"]
    names = [lab[i] if lab and i < len(lab) else str(i)
             for lab, i in zip([t.rows, t.cols] if g.ndim == 2 else [t.cols or t.rows], idx, strict=False)]
    where = code("[" + ", ".join(names) + "]")

    def n(x: float) -> str:
        s = table_number(x, precision)
        return f"({s})" if s.startswith("-") else s

    b, w, w_new = step.bindings, at["w"], table_number(at["w'"], precision)
    if kind == "sgd":
        lines = [f"w' = w − α·g = {table_number(w, precision)} − {b['α']}·{n(at['g'])} = {w_new}"]
    elif kind == "momentum":
        v_new = at["v'"]
        lines = [f"v' = β·v + g = {b['β']}·{n(at['v'])} + {n(at['g'])} = {table_number(v_new, precision)}",
                 f"w' = w − α·v' = {table_number(w, precision)} − {b['α']}·{n(v_new)} = {w_new}"]
    else:
        lines = _adam_lines(b, at, n, precision)
    why = ("every entry of the gradient is 0 up to round-off, so this one stands for all"
           if not denoised(g).any() else "the entry with the largest gradient")
    return (f"**One entry worked out:** {where}, {why}.\n\n```\n"
            + "\n".join(lines) + "\n```")


def _adam_lines(b: dict, at: dict, n, precision: int) -> list[str]:
    b1, b2, t = float(b["β₁"]), float(b["β₂"]), int(b.get("t", "1"))
    m_new, s_new = at["m'"], at["s'"]
    m_hat, s_hat = m_new / (1 - b1 ** t), s_new / (1 - b2 ** t)
    return [f"m' = β₁·m + (1 − β₁)·g = {b['β₁']}·{n(at['m'])} + {n(1 - b1)}·{n(at['g'])} = {table_number(m_new, precision)}",
            f"s' = β₂·s + (1 − β₂)·g² = {b['β₂']}·{n(at['s'])} + {n(1 - b2)}·{n(at['g'])}² = {table_number(s_new, precision)}",
            f"m̂ = m' / (1 − β₁^{t}) = {table_number(m_hat, precision)},  ŝ = s' / (1 − β₂^{t}) = {table_number(s_hat, precision)}",
            _adam_step(b, at, n, m_hat, s_hat, precision)]


def _adam_step(b: dict, at: dict, n, m_hat: float, s_hat: float, precision: int) -> str:
    """w' from the moments; AdamW (its λ recorded, decoupled) first shrinks w by (1 − α·λ)."""
    w_new = at["w'"]
    tail = (f"{b['α']}·{n(m_hat)} / ({table_number(np.sqrt(s_hat), precision)} + {b['ε']}) = "
            f"{table_number(w_new, precision)}")
    if b.get("decay") == "decoupled":
        return (f"w' = w·(1 − α·λ) − α·m̂ / (√ŝ + ε) = {table_number(at['w'], precision)}·(1 − {b['α']}·{b['λ']}) − "
                + tail)
    return f"w' = w − α·m̂ / (√ŝ + ε) = {table_number(at['w'], precision)} − " + tail
