"""Quiz mode's question: asked before a step's outputs are shown, then marked beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

if TYPE_CHECKING:  # the quiz logic loads only when a question is asked
    from stepper.quiz import Question, Verdict



class AnswerInput(Input):
    """The answer box, which acts on each key in the order typed. Textual hands keys to the focused
    widget's queue and runs Enter's and Esc's actions only once they have bubbled up to the screen: by
    then the keys typed after them (`n`, say) would have landed in the box. Here Enter marks the answer
    at once, and a key bound to leaving the box (Esc) leaves it at once; a key that arrives after the
    box has given up focus goes back to the app, which gives it to whatever has focus now (n steps)."""

    async def _on_key(self, event: events.Key) -> None:
        if self.app.focused is not self:  # the answer was marked or left, or a dialog opened over it
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        bound = self.screen.active_bindings.get(event.key)
        action = "submit_answer" if event.key == "enter" else (
            bound.binding.action if bound is not None and bound.binding.action == "leave_question" else None)
        if action is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        await self.run_action(f"screen.{action}")


class QuizBox(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="quiz-question")
        yield AnswerInput(placeholder="your answer, then Enter (empty: show it) · Esc: later", id="quiz-answer")
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
        head = (("· skipped", "bold $text-muted") if not verdict.scored else ("✓ right", "bold $text-success")
                if verdict.ok else ("✗ not quite", "bold $text-error"))
        said = f"you said {verdict.got!r}" if verdict.got else "not scored"
        lines = [head, ("  " + said + " · answer ", "$text-muted"), (verdict.expected, "bold")]
        if verdict.explanation:
            lines += ["\n", ("why  ", "$text-muted"), verdict.explanation]
        self.query_one("#quiz-verdict", Static).update(Content.assemble(*lines))

    @property
    def answer(self) -> Input:
        return self.query_one("#quiz-answer", Input)

