"""Marking answers and keeping score: shared by the TUI's quiz mode and `stepper quiz`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from stepper.quiz.questions import Question, questions_for
from stepper.trace import Trace

_NUMBER = re.compile(r"[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+−]?inf", re.IGNORECASE)
# what one can type for a token shown as a symbol
_SPOKEN = {"space": "␣", "newline": "⏎", "enter": "⏎", "tab": "⇥"}
_SIGNS = {"+": "positive", "pos": "positive", "positive": "positive", ">0": "positive", "above": "positive",
          "-": "negative", "−": "negative", "neg": "negative", "negative": "negative", "<0": "negative",
          "below": "negative"}


# a shape as one may type it: 2x4, 2×4, [2, 4], (2, 4), 2 4, 2 by 4, and nothing else
_SHAPE = re.compile(r"[\[(]?\s*\d+(?:\s*(?:[x×*,]|by)?\s*\d+)*\s*[\])]?", re.IGNORECASE)
_SKIP = ("", "skip")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    got: str
    expected: str
    explanation: str
    scored: bool = True  # False: skipped (an empty reply, or `skip`): the answer is shown, nothing scored


def _number(text: str) -> float | None:
    m = _NUMBER.search(text.replace(",", ".").replace("∞", "inf"))
    if not m:
        return None
    return float(m.group(0).replace("−", "-").lower())


def _said(reply: str) -> str:
    """The reply, with a spoken name ("space") for a token shown as a symbol (␣) read as that symbol."""
    reply = reply.strip()
    return _SPOKEN.get(reply.casefold(), reply)


def unreadable(q: Question, reply: str) -> str | None:
    """Why `reply` cannot be marked at all (it is asked for again, not scored), or None."""
    reply = _said(reply)
    if not reply:
        return None
    if q.kind == "shape" and not _SHAPE.fullmatch(reply):
        return "a shape is numbers, like 2×4: try again"
    if q.kind == "sign" and reply.lower().replace(" ", "") not in _SIGNS:
        return "answer + or − (or above / below, positive / negative): try again"
    if q.kind != "sign" and q.choices and reply.casefold() not in {c.casefold() for c in q.choices}:
        return f"answer one of: {', '.join(q.choices)}"
    numeric = q.kind not in ("shape", "sign", "argmax") and _number(q.answer) is not None
    if numeric and _number(reply) is None:
        return "that is not a number: type one, like 0.25"
    return None


def judge(q: Question, reply: str) -> Verdict | str:
    """The one marking of a reply, for the TUI's quiz and `stepper quiz` alike: a Verdict (unscored for
    an empty reply or `skip`: the answer is shown), or why the reply cannot be marked at all (a typo is no
    wrong prediction: asked again at a keyboard, passed over unscored when the answers are piped)."""
    said = reply.strip()
    if said.casefold() in _SKIP and said.casefold() not in {c.casefold() for c in q.choices}:
        return Verdict(False, "", q.expected, q.why, scored=False)
    return unreadable(q, said) or mark(q, said)


def mark(q: Question, reply: str) -> Verdict:
    """Right or wrong, for a reply `unreadable` lets through (judge asks it first)."""
    reply = reply.strip()
    if q.kind == "shape":
        got = [int(n) for n in re.findall(r"\d+", reply)]
        want = [int(n) for n in re.findall(r"\d+", q.answer)]
        ok = got == want
    elif q.kind == "sign":
        ok = _SIGNS.get(reply.lower().replace(" ", "")) == q.answer
    elif q.kind == "argmax" or (q.kind == "authored" and _number(q.answer) is None):
        ok = _said(reply).casefold() == q.answer.casefold()
    else:
        got_n, want_n = _number(reply), _number(q.answer)
        ok = got_n is not None and want_n is not None and (
            got_n == want_n or (math.isfinite(got_n) and abs(got_n - want_n) <= q.tolerance))
    return Verdict(ok, reply, q.expected, q.why)


def authored(trace: Trace) -> dict[str, Question]:
    """The scenario's own questions (`quiz:`), by step id."""
    out = {}
    for item in trace.quiz:
        out[item["step"]] = Question(item["step"], "authored", item["ask"], str(item["answer"]),
                                     float(item.get("tolerance", 0.0)), item.get("why", ""))
    return out


def question_for(trace: Trace, index: int) -> Question:
    """The one question asked before step `index`: the author's if any, else a generated one.

    Generated kinds take turns across steps (by index) so a walk through the trace asks a mix.
    """
    step = trace.steps[index]
    mine = authored(trace).get(step.id)
    if mine is not None:
        return mine
    options = questions_for(step)
    return options[index % len(options)] if options[0].kind in ("cell", "shape") else options[0]


@dataclass
class Score:
    results: list[tuple[Question, Verdict]] = field(default_factory=list)

    def add(self, q: Question, v: Verdict) -> None:
        if v.scored:  # a skipped question was seen, not answered
            self.results.append((q, v))

    @property
    def right(self) -> int:
        return sum(v.ok for _, v in self.results)

    def line(self) -> str:
        n = len(self.results)
        return f"{self.right}/{n} right" + (f" ({100 * self.right / n:.0f}%)" if n else "")
