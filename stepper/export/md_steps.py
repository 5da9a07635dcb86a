"""One step of the trace as a textbook paragraph: heading, formula, shapes, numbers, meaning, verdict."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from stepper.export.md_tables import MAX_HEADS, code, table, text
from stepper.present.captions import shown_bindings
from stepper.present.cost import cost_line
from stepper.present.cross import stream_note
from stepper.present.labels import shape_text
from stepper.present.numbers import error_bound, given_number, table_number
from stepper.present.provenance import made_by, stale_lesson
from stepper.present.roles import symbol_roles
from stepper.present.verdicts import UNCHECKED, mark, ok_mark, reference_name, tolerance_text
from stepper.present.worked import worked_line
from stepper.trace import Step, Tensor, Trace
from stepper.verify.compare import NOTHING
from stepper.verify.verdicts import Check


class Axes:
    """Names an axis from its labels, so a caption can say `tokens × model dims`."""

    def __init__(self, trace: Trace):
        self.vocab = list(trace.config.get("vocab") or [])
        self.tokens = list(trace.tokens)
        self.source = list(trace.config.get("source") or [])  # an encoder–decoder's: its tokens are the target's
        self.classes = list((trace.config.get("task") or {}).get("classes") or [])

    def name(self, labels: list[str] | None, vocab_here: bool = True) -> str | None:
        """`vocab_here`: whether a vocabulary is what this axis would list when its labels could be
        either (a sentence that spells out the whole vocabulary in order, as sqrt_dk's five tokens do)."""
        if not labels:
            return None
        is_vocab, is_tokens = labels == self.vocab, labels == self.tokens[:len(labels)]
        if is_vocab and (vocab_here or not is_tokens):
            return "vocabulary"
        if self.source and labels == self.source:
            return "source tokens"
        if is_tokens:
            return "target tokens" if self.source else "tokens"
        if labels == self.classes:
            return "classes"
        for prefix, what in (("d", "model dims"), ("f", "FFN units")):
            if all(re.fullmatch(prefix + r"\d+", s) for s in labels):
                return what
        return None

    def caption(self, t: Tensor) -> str:
        # the embedding table's rows, and the columns of the logits and the head, are the vocabulary;
        # a token-by-token attention grid and every activation's rows are the sentence
        base = (t.key or "").removeprefix("d:").split("<-")[0]
        attention = ".attn." in base or (t.rows is not None and t.rows == t.cols)  # the mask M has no key
        if t.value.ndim == 1:  # a keyless vector is the input's token ids
            return self.name(t.cols or t.rows, vocab_here=bool(t.key) and not attention) or ""
        rows = self.name(t.rows, vocab_here=base == "embed.tok")
        cols = self.name(t.cols, vocab_here=not attention)
        if rows == cols == "tokens":  # a token-by-token grid is always queries against keys here
            return "query tokens × key tokens"
        if rows == "target tokens" and cols in ("target tokens", "source tokens"):  # self- or cross-attention
            return f"{rows} (queries) × {cols} (keys)"
        return f"{rows} × {cols}" if rows and cols else ""


def math_block(latex: str) -> str:
    """$$ … $$ that GitHub renders: its markdown pass only leaves `\\\\` alone at the end of a line."""
    body = re.sub(r"\\\\\s*", "\\\\\\\\\n", latex.strip())
    return f"$$\n{body}\n$$"


def prose(s: str) -> str:
    return text(" ".join(s.split()))


def heading(step: Step, number: int, n_heads: int) -> str:
    head = f" (head {step.head})" if step.head is not None and n_heads > 1 else ""
    return f"#### Step {number} · {text(step.title)}{head}"


def _head_tables(step: Step, symbol: str, t: Tensor, precision: int) -> list[str]:
    """A [H, T, d_k] array (heads stacked) as one table per head, labels borrowed from its siblings."""
    n_heads, n_rows, n_cols = t.value.shape
    siblings = [*step.inputs.values(), *step.outputs.values()]
    rows = next((s.rows for s in siblings if s.rows and len(s.rows) == n_rows), None)
    wide = next((s.cols for s in siblings if s.cols and len(s.cols) == n_heads * n_cols), None)
    out = []
    for h in range(min(n_heads, MAX_HEADS)):
        cols = wide[h * n_cols:(h + 1) * n_cols] if wide else None
        body, note = table(code(f"{symbol}[{h}]"), t.value[h], rows, cols, precision)
        out.append(body + (f"\n\n*{note}*" if note else ""))
    if n_heads > MAX_HEADS:
        out.append(f"*Heads {MAX_HEADS}–{n_heads - 1} are left out; the JSON export has them.*")
    return out


def tensor_block(step: Step, role: str, symbol: str, t: Tensor, axes: Axes, precision: int) -> str:
    value = np.asarray(t.value, dtype=np.float64)
    if value.ndim == 0:
        return f"*{role}* {code(symbol)} = {table_number(value, precision)}"
    what = axes.caption(t) if value.ndim < 3 else "one table per head"
    caption = f"*{role}* {code(symbol)} {shape_text(t.shape)}" + (f" — {what}" if what else "")
    if value.ndim == 3:
        return "\n\n".join([caption, *_head_tables(step, symbol, t, precision)])
    if value.ndim > 3:
        return caption + " — too many axes for a table; see the JSON export."
    body, note = table(code(symbol), value, t.rows, t.cols, precision)
    return "\n\n".join([caption, body] + ([f"*{note}*"] if note else []))


def verdict(check: Check | None) -> tuple[str, str]:
    """(mark, error) for the summary table."""
    if check is None:
        return "not verified", "—"
    if not check.compared:
        return UNCHECKED, NOTHING
    return mark(check), error_bound(check.max_abs_err)


@dataclass(frozen=True)
class Findings:
    """What the document says beside the trace's own numbers: the verdicts of verification (none for
    a step not verified) and the what-if edit the trace was recomputed after ("" for the scenario as
    written). Passed in, never read from the Trace: verification and the app keep them."""

    verdicts: Mapping[str, Check] = field(default_factory=dict)
    whatif: str = ""

    def check(self, step: Step) -> Check | None:
        return self.verdicts.get(step.id)


def check_line(check: Check | None, phase: str | None = None) -> str:
    if check is None:
        return "**Check:** not verified — the independent reference was not run for this export."
    if not check.compared:
        return "**Check:** · nothing here has an independent reference value to compare."
    agree = "agrees with" if check.ok else "**disagrees** with"
    where = "" if check.ok else f", worst at {code(check.worst)}"
    return (f"**Check:** {ok_mark(check.ok)} {agree} {text(reference_name(phase, check))}: "
            f"max abs error {error_bound(check.max_abs_err)}{where} (tolerance {tolerance_text(check, given_number)}).")


def _role(step: Step, t: Tensor) -> str:
    if t.is_param:
        return "Parameter"
    if step.phase == "backward":  # tell the gradient arriving from above from what forward left behind
        if t.key is not None:
            return "Incoming gradient" if t.key.startswith("d:") else "Saved from the forward pass"
    return "Input"


def _generic_names(step: Step) -> str:
    return "Here " + ", ".join(f"{symbol} = {code(name)}" for symbol, name in symbol_roles(step)) + "."


def checks_line(steps: list[Step], found: Findings) -> str:
    """One verdict for a block that presents several steps together."""
    checks = [found.check(s) for s in steps]
    if all(c is None for c in checks):
        return check_line(None)
    if len(steps) == 1 or any(c is None or not c.ok for c in checks):
        return "\n\n".join((f"{code(s.id)} · " if len(steps) > 1 else "") + check_line(c, s.phase)
                           for s, c in zip(steps, checks, strict=True))
    worst = max(checks, key=lambda c: c.max_abs_err)
    return (f"**Check:** {ok_mark(True)} all {len(steps)} steps agree with "
            f"{text(reference_name(steps[0].phase, checks[0]))}: "
            f"max abs error {error_bound(worst.max_abs_err)} (tolerance {tolerance_text(worst, given_number)}).")


def lesson_line(lesson: str, trace: Trace, step: Step | None = None, whatif: str = "") -> str:
    """A scenario's lesson as a quote; marked when it may quote other numbers than the tables (a what-if
    trace, or generation run with other flags than the file's)."""
    stale = stale_lesson(trace, step, whatif)
    written = f" *({stale})*" if stale else ""
    return "> **Lesson.**" + written + " " + prose(lesson)


def step_block(step: Step, number: int, trace: Trace, axes: Axes, precision: int, quiz: str = "",
               found: Findings = Findings()) -> str:
    """`quiz` is the learner's question and verdict for this step, already as markdown (md_quiz)."""
    n_heads = int((trace.config.get("model") or {}).get("n_heads") or 1)
    where = f"layer {step.layer}" if step.layer is not None else ""
    parts = [heading(step, number, n_heads), code(step.id) + (f" · {where}" if where else ""),
             math_block(step.formula.latex)]
    ins = " · ".join(f"{code(n)} {shape_text(t.shape)}" for n, t in step.inputs.items())
    outs = " · ".join(f"{code(n)} {shape_text(t.shape)}" for n, t in step.outputs.items())
    shapes = f"**Shapes:** {ins} → {outs}" if ins else f"**Shapes:** produces {outs}"
    if step.bindings:
        shapes += ", with " + ", ".join(f"{text(k)} = {text(v)}" for k, v in shown_bindings(step).items())
    parts.append(shapes + ".")
    if streams := stream_note(trace, number - 1):  # cross-attention: which stream Q, K and V come from
        parts.append("**Streams:** " + text(streams))
    parts.append(f"**Cost:** {cost_line(trace, step)}.")
    # a worked-out line of arithmetic reads as a sentence of its own, not as one more symbol binding
    if worked := worked_line(step):
        parts.append("**Worked out:** " + text(worked))
    if symbol_roles(step):
        parts.append(_generic_names(step))
    if quiz:  # before the numbers, as in the quiz itself: predict first, then look
        parts.append(quiz)
    for name, t in step.inputs.items():
        # one symbol (X, dY…) names different arrays in different steps: say which one this is
        made = made_by(trace, number - 1, t)
        role = _role(step, t) + (f" ({made})" if made else "")
        parts.append(tensor_block(step, role, name, t, axes, precision))
    for name, t in step.outputs.items():
        parts.append(tensor_block(step, "Output", name, t, axes, precision))
    parts.append(prose(step.formula.meaning))
    if step.lesson:
        parts.append(lesson_line(step.lesson, trace, step, found.whatif))
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(parts)
