"""Questions generated from a trace, asked before a step's output is revealed.

Every answer is read off the trace itself (never written by hand), so a question can only
be as wrong as the engine — and the engine is verified. Kinds:
  shape     — the output's shape
  cell      — one interesting entry (the largest attention weight, the loss, a probability)
  argmax    — which token a query row attends to most
  sign      — the sign of a gradient entry (the largest in size, so it is never ≈ 0)
  count     — how many scores the mask hides
  authored  — a question the scenario wrote under `quiz:`
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.present.labels import compact_shape_line, visible_token
from stepper.roundoff import denoised, first_largest, ranked, steady
from stepper.trace import Step, Tensor


@dataclass(frozen=True)
class Question:
    step_id: str
    kind: str
    prompt: str
    answer: str  # the expected answer, as text
    tolerance: float = 0.0  # for numbers: accepted absolute error
    why: str = ""
    choices: tuple[str, ...] = ()  # for argmax / sign: what may be answered

    @property
    def expected(self) -> str:
        """The answer as shown to the learner: with its tolerance, for a number."""
        return self.answer + (f" (±{self.tolerance:g})" if self.tolerance else "")


def _label(labels: list[str] | None, i: int) -> str:
    return labels[i] if labels and i < len(labels) else str(i)


def _main_output(step: Step) -> tuple[str, Tensor]:
    return next(iter(step.outputs.items()))


def shape_question(step: Step) -> Question:
    name, t = _main_output(step)
    shape = "[" + ", ".join(str(n) for n in t.shape) + "]"
    ins = ", ".join(f"{n} {list(v.shape)}" for n, v in step.inputs.items())
    return Question(step.id, "shape", f"What is the shape of {t.symbol}? (inputs: {ins})", shape,
                    why=f"{step.formula.plain}: {compact_shape_line(step)}")


def cell_question(step: Step) -> Question | None:
    name, t = _main_output(step)
    v = np.asarray(t.value, dtype=np.float64)
    if v.size == 0 or not np.isfinite(v).any():
        return None
    if v.ndim == 0:
        return Question(step.id, "cell", f"What is {t.symbol}? (to ±{_tol(v):g})", f"{steady(v):.6g}", _tol(v),
                        why=step.formula.plain)
    idx = first_largest(np.abs(v))  # a tie up to round-off: the first entry, on every machine
    where = ", ".join(_label(lab, i) for lab, i in zip(_axis_labels(t), idx, strict=False))
    value = steady(v[idx])
    tol = _tol(v)
    return Question(step.id, "cell", f"What is the largest-magnitude entry of {t.symbol}, at [{where}]? "
                    f"(to ±{tol:g})", f"{value:.6g}", tol, why=f"{t.symbol}[{where}] = {value:.6g} by {step.formula.plain}")


def argmax_question(step: Step) -> Question | None:
    """For attention weights: which token does the last query row attend to most?"""
    if step.stage != "softmax" or step.phase != "forward":
        return None
    _, t = _main_output(step)
    a = np.atleast_2d(np.asarray(t.value))
    if a.shape[0] < 2 or not t.rows or not t.cols:
        return None
    row = a.shape[0] - 1
    order = ranked(a[row])  # a tie up to round-off: the first token, on every machine
    j = order[0]
    second = a[row, order[1]] if len(order) > 1 else -1.0
    if a[row, j] - second < 0.01 or len(set(t.cols)) < 2:  # a near-tie, or one choice: nothing to predict
        return None
    # tokens as they are shown (a space is ␣), each once even where it stands at several positions
    cols = [visible_token(c) for c in t.cols]
    return Question(step.id, "argmax", f"Which token does “{visible_token(t.rows[row])}” attend to most?", cols[j],
                    why=f"its weights are {', '.join(f'{c} {steady(w):.3f}' for c, w in zip(cols, a[row], strict=True))}",
                    choices=tuple(dict.fromkeys(cols)))


def sign_question(step: Step) -> Question | None:
    if step.phase != "backward":
        return None
    # not one path's share (`d:IN<-OUT`): its sign may differ from the whole gradient's, and the why
    # below speaks of the whole; nor a stack of heads, whose entries have no names to ask by
    grads = [(n, t) for n, t in step.outputs.items() if t.value.size > 1 and t.value.ndim <= 2
             and "<-" not in (t.key or "") and denoised(t.value).any()]  # not all round-off (db_K)
    if not grads:
        return None
    name, t = max(grads, key=lambda nt: ("W" in nt[0], nt[1].value.size))
    v = denoised(t.value)
    idx = first_largest(np.abs(v))
    where = ", ".join(_label(lab, i) for lab, i in zip(_axis_labels(t), idx, strict=False))
    sign = "positive" if v[idx] > 0 else "negative"
    base = (t.key or "").removeprefix("d:")
    weight = t.symbol[1:2] in ("W", "b", "γ", "β") or any(i.is_param and i.key == base for i in step.inputs.values())
    if weight:  # gradient descent subtracts the gradient
        why = f"gradient descent subtracts it, so this weight would go {'down' if sign == 'positive' else 'up'}"
    else:
        why = (f"raising {t.symbol[1:] or 'it'}[{where}] a little would {'raise' if sign == 'positive' else 'lower'}"
               " the loss")
    # "above zero" rather than "positive": a class may be called `positive` (mini's dz[positive])
    return Question(step.id, "sign", f"Is {t.symbol}[{where}] above zero (+) or below zero (−)?", sign,
                    why=f"{t.symbol}[{where}] = {steady(v[idx]):.4g}: {why}", choices=("positive", "negative"))


def _axis_labels(t: Tensor) -> list[list[str] | None]:
    if t.value.ndim == 1:
        return [t.cols]
    if t.value.ndim == 2:
        return [t.rows, t.cols]
    return [None] * (t.value.ndim - 2) + [t.rows, t.cols]


def _tol(v: np.ndarray) -> float:
    """2% of the entry scale, at least 0.005: strict enough to need the arithmetic, loose enough for 2-3 digits."""
    finite = np.abs(v[np.isfinite(v)]) if np.ndim(v) else np.abs(np.atleast_1d(v))
    scale = float(finite.max()) if finite.size else 1.0
    return float(f"{steady(max(0.02 * scale, 0.005)):.2g}")


def mask_question(step: Step) -> Question | None:
    """For the mask: how many scores it hides. Its shape would be no question: the inputs show it."""
    if step.stage != "mask" or step.phase != "forward" or "M" not in step.inputs:
        return None
    m = np.asarray(step.inputs["M"].value)
    hidden, total = int(np.isneginf(m).sum()), m.size
    n = m.shape[0]
    if hidden == 0:
        why = "no key is hidden from any query here (no causal mask, no <pad>), so M is all 0"
    elif hidden == n * (n - 1) // 2 and np.isneginf(m[np.triu_indices(n, 1)]).all():
        why = f"a causal mask hides every key after its query: the {hidden} entries above the diagonal"
    else:
        why = f"M is −∞ at the {hidden} (query, key) pairs a query may not see"
    if hidden:
        why += "; softmax then gives each of them e^−∞ = 0"
    return Question(step.id, "count", f"How many of the {total} entries of {_main_output(step)[1].symbol} "
                    "will be −∞?", str(hidden), 0.0, why=why)


def questions_for(step: Step) -> list[Question]:
    """Every generated question for one step, most telling first."""
    makers = (mask_question, argmax_question, sign_question, cell_question)
    found = [q for q in (make(step) for make in makers) if q is not None]
    return found + [shape_question(step)]
