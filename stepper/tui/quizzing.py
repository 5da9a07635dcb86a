"""Quiz mode's state: which steps were asked, what was answered, the score. No Textual here.

Answers are kept per trace (a what-if edit makes a new trace with new numbers, so its steps
are asked afresh) and per step id, so a revisited step shows its verdict instead of asking again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stepper.trace import Trace

if TYPE_CHECKING:
    from stepper.quiz import Question, Verdict


class QuizState:
    def __init__(self, on: bool = False) -> None:
        from stepper.quiz import Score

        self.on = on
        self.score = Score()
        self._asked: dict[tuple[int, str], Question | None] = {}
        self._answered: dict[tuple[int, str], tuple[Question, Verdict]] = {}  # in the order answered
        self._traces: dict[int, Trace] = {}  # kept alive, so no later trace can reuse an id

    def item(self, trace: Trace, index: int) -> tuple[Question | None, Verdict | None]:
        """(question, verdict) to show on this step: (None, None) with the quiz off or nothing to ask."""
        if not self.on:
            return None, None
        self._traces.setdefault(id(trace), trace)
        key = (id(trace), trace.steps[index].id)
        if key in self._answered:
            return self._answered[key]
        if key not in self._asked:
            self._asked[key] = _question(trace, index)
        return self._asked[key], None

    def pending(self, trace: Trace, index: int) -> bool:
        question, verdict = self.item(trace, index)
        return question is not None and verdict is None

    def answer(self, trace: Trace, index: int, reply: str) -> Verdict | str | None:
        """Judge `reply` as `stepper quiz` does (stepper.quiz.judge): the Verdict, kept; or why the reply
        cannot be marked (nothing kept: the question stays); None when nothing is asked here."""
        from stepper.quiz import judge

        question, verdict = self.item(trace, index)
        if question is None or verdict is not None:
            return None
        verdict = judge(question, reply)
        if isinstance(verdict, str):
            return verdict
        self._answered[(id(trace), trace.steps[index].id)] = (question, verdict)
        self.score.add(question, verdict)
        return verdict

    def results(self, trace: Trace) -> list[tuple[Question, Verdict]]:
        """The answers given on `trace`, in order: what its markdown export prints. A what-if edit's
        trace has other numbers, so an answer given on one is no answer about the other."""
        return [pair for (made_on, _), pair in self._answered.items() if made_on == id(trace) and pair[1].scored]

    def elsewhere(self, trace: Trace, name: Callable[[Trace], str]) -> list[tuple[Question, Verdict, str]]:
        """The answers given on the other traces of this session (the original, or another what-if
        edit), each with `name(trace it was given on)`: an export keeps them apart from its own."""
        return [(*pair, name(self._traces[made_on])) for (made_on, _), pair in self._answered.items()
                if made_on != id(trace) and pair[1].scored]

    def line(self) -> str:
        return f"quiz {self.score.line()}" if self.score.results else "quiz: predict, then Enter"


def _question(trace: Trace, index: int) -> Question | None:
    from stepper.quiz import question_for

    try:
        return question_for(trace, index)
    except (StopIteration, ValueError, IndexError):  # a step with no output has nothing to predict
        return None
