"""Quiz mode's question: asked before a step's outputs are shown, then marked beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

if TYPE_CHECKING:  # the quiz logic loads only when a question is asked
    from stepper.quiz import Question, Verdict



class QuizBox(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="quiz-question")
        yield Input(placeholder="your answer, then Enter · Esc: answer later", id="quiz-answer")
        yield Static(id="quiz-verdict")

    def show(self, question: Question | None, verdict: Verdict | None) -> None:
        """No question: quiz mode is off. No verdict yet: ask. Both: how the answer went."""
        self.display = question is not None
        if question is None:
            return
        parts: list = [("Predict  ", "bold $text-warning"), question.prompt]
        if question.choices:
            parts += ["\n", ("one of   ", "$text-muted"), ", ".join(question.choices)]
        self.query_one("#quiz-question", Static).update(Content.assemble(*parts))
        answer = self.query_one("#quiz-answer", Input)
        answer.display = verdict is None
        self.query_one("#quiz-verdict", Static).display = verdict is not None
        if verdict is None:
            answer.value = ""
            return
        head = (("✓ right", "bold $text-success") if verdict.ok
                else ("✗ not quite", "bold $text-error"))
        said = f"you said {verdict.got!r}" if verdict.got else "no answer"
        lines = [head, ("  " + said + " · answer ", "$text-muted"), (verdict.expected, "bold")]
        if verdict.explanation:
            lines += ["\n", ("why  ", "$text-muted"), verdict.explanation]
        self.query_one("#quiz-verdict", Static).update(Content.assemble(*lines))

    def focus_answer(self) -> None:
        self.query_one("#quiz-answer", Input).focus()
