"""The stepper: pipeline on the left, the current step in the middle, its meaning and check beside.

Two learning modes live here too: the quiz (`z`: predict a step's output before it is shown)
and what-if edits (`w`: change a number, see everything downstream move; `o`: original/edited).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.reactive import reactive
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from stepper.present.captions import spoiler_free
from stepper.present.provenance import stale_lesson
from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.bindings import MODE_BINDINGS, STEP_BINDINGS
from stepper.tui.commands import StepCommands
from stepper.tui.palette import open_palette
from stepper.tui.quizzing import QuizState
from stepper.tui.screens.editing import EditingScreen
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.widgets.details import Details
from stepper.tui.widgets.pipeline import PipelineList
from stepper.tui.widgets.quiz_box import QuizBox
from stepper.tui.widgets.step_panel import StepPanel
from stepper.tui.widgets.title_bar import TitleBar

VERIFY_DELAY = 0.25
# while the quiz's answer box has focus these keys are letters of the answer, not steps
TYPING_BLOCKS = frozenset(b.action.split("(")[0] for b in STEP_BINDINGS)


class MainScreen(EditingScreen):
    BINDINGS = [*STEP_BINDINGS, *MODE_BINDINGS]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (50, "-very-tall")]

    index: reactive[int] = reactive(0, init=False)

    def __init__(self, scenario: Scenario, trace: Trace, *, verify: bool = True, quiz: bool = False,
                 verdicts=None) -> None:
        super().__init__()
        self.verdicts["original"] = dict(verdicts or {})
        self.scenario, self.verify = scenario, verify
        self.original = self.trace = trace  # `trace` is the one on screen: the original or the edit's
        self.role = "original"
        self.quiz = QuizState(quiz)
        self._answer_wanted: int | None = None  # the step whose answer box is to take focus once shown

    def compose(self) -> ComposeResult:
        yield TitleBar(self.trace.scenario, self.trace.title, id="title-bar")
        with Horizontal(id="body"):
            yield PipelineList(self.trace, id="pipeline")
            with Container(id="main"):
                yield StepPanel(id="step")
                yield Details(id="details")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # filled in synchronously so the very first frame already shows the first step
        if self.quiz.on:
            self.query_one(PipelineList).use(self.trace, title=spoiler_free)
        self._show(self.index)
        self._show_modes()
        self.poll_checks()
        if len(self._checked) == len(self.trace.steps):
            self.summarise_checks()
        elif self.verify:
            self.query_one(TitleBar).set_status("checking against torch…")
            # torch takes a second or more to import and holds the GIL while it does: start
            # only once the first frame is out, plus a moment for the terminal to draw it
            self.call_after_refresh(self.set_timer, VERIFY_DELAY,
                                    partial(self.start_checks, "original", self.scenario, self.original))

    def on_resize(self) -> None:
        # 80 columns cannot hold every key and the palette hint; g and ? still name the palette
        self.query_one(Footer).show_command_palette = self.size.width >= 100
        self.summarise_checks()  # its words depend on the width too

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # typing an answer here, in the quiz box; the command palette's input is another screen's
        typing = isinstance(self.app.focused, Input) and self.app.focused.screen is self
        if action == "leave_question":  # also while a question's box is about to take focus
            return typing or self._answer_wanted is not None
        if typing and action in TYPING_BLOCKS:
            return False  # the key goes on to the answer box
        if action == "toggle_edit":
            return self.edited is not None  # in the Footer only once there is an edit to flip to
        return True

    # ---- navigation -------------------------------------------------------------------

    def go_to(self, index: int) -> None:
        self.index = max(0, min(index, len(self.trace.steps) - 1))

    def watch_index(self, index: int) -> None:
        self._show(index)

    def _show(self, index: int) -> None:
        step = self.trace.steps[index]
        question, verdict = self.quiz.item(self.trace, index)
        asking = question is not None and verdict is None
        changes = self.edited.changes.get(step.id) if self.edited is not None else None
        self.query_one(PipelineList).show_step(index)
        self.query_one(StepPanel).show(self.trace, index, question=question, verdict=verdict, changes=changes)
        self.query_one(Details).show(step, check=self.checks.get(step.id), asking=asking,
                                     edited=self.role == "edited", stale=stale_lesson(self.trace, step, self._whatif()))
        self._answer_wanted = index if asking else None
        if asking:  # once the box is displayed; unless the learner has left it (Esc) or the step meanwhile
            self.call_after_refresh(self._focus_answer, index)
        elif isinstance(self.app.focused, Input):
            self._leave_answer_box()

    def poll_checks(self) -> list[int]:
        fresh = super().poll_checks()
        if self.index in fresh:
            step = self.trace.steps[self.index]
            self.query_one(Details).show(step, check=self.checks.get(step.id), edited=self.role == "edited",
                                         stale=stale_lesson(self.trace, step, self._whatif()),
                                         asking=self.quiz.pending(self.trace, self.index))
        return fresh

    def on_pipeline_list_step_chosen(self, event: PipelineList.StepChosen) -> None:
        self.go_to(event.index)

    def action_next(self) -> None:
        if self.index == len(self.trace.steps) - 1:
            self.notify("This is the last step. Press f for the forward start, b for the backward pass.",
                        timeout=3)
        self.go_to(self.index + 1)

    def action_previous(self) -> None:
        self.go_to(self.index - 1)

    def action_first(self) -> None:
        self.go_to(0)

    def action_last(self) -> None:
        self.go_to(len(self.trace.steps) - 1)

    def action_forward_start(self) -> None:
        self.go_to(0)

    def action_backward_start(self) -> None:
        self.go_to(self.trace.first_backward())

    def action_go_to(self) -> None:
        open_palette(self.app, providers=[StepCommands], placeholder="Go to step… (fuzzy)")

    def action_scroll_step(self, pages: int) -> None:
        panel = self.query_one(StepPanel)
        (panel.scroll_page_down if pages > 0 else panel.scroll_page_up)(animate=False)

    # ---- quiz ----------------------------------------------------------------------------

    def action_toggle_quiz(self) -> None:
        self.quiz.on = not self.quiz.on
        self.query_one(PipelineList).use(self.trace, changed=self._changed_steps(),
                                         title=spoiler_free if self.quiz.on else (lambda step: step.title))
        self._show(self.index)
        self._show_modes()
        if self.quiz.on:
            self.notify("Quiz: predict each step before its outputs appear. Enter marks, Esc answers later.",
                        title="quiz on", timeout=4)

    def action_submit_answer(self) -> None:
        """Enter in the answer box (AnswerInput calls it in key order, not through a message)."""
        answer = self.query_one(QuizBox).answer
        outcome = self.quiz.answer(self.trace, self.index, answer.value)
        if isinstance(outcome, str):  # not scored: a typo is not a wrong prediction
            self.notify(outcome, title="Not marked", severity="warning")
            return
        self._show(self.index)
        self._show_modes()

    def action_leave_question(self) -> None:
        self._leave_answer_box()

    def _focus_answer(self, index: int) -> None:
        # set_focus, at once: Widget.focus would defer it once more, past an Esc read meanwhile
        if self._answer_wanted == index == self.index:
            self.set_focus(self.query_one(QuizBox).answer)

    def _leave_answer_box(self) -> None:
        self._answer_wanted = None
        # at once, not after a refresh (as Widget.focus would): the very next key must step
        self.set_focus(self.query_one(PipelineList))

    def _show_modes(self) -> None:
        quiz = self.quiz.line() if self.quiz.on or self.quiz.score.results else None
        whatif = None
        if self.edited is not None:
            view = "edited" if self.role == "edited" else "ORIGINAL"
            whatif = f"what-if {self.edited.label} · {view} (o)"
        self.query_one(TitleBar).set_mode(quiz, whatif)
        self.summarise_checks()  # the verdict beside a mode takes its short words

    # ---- export ------------------------------------------------------------------------

    def action_export(self) -> None:
        self._export(Path.cwd())

    @work(thread=True, exclusive=True, group="export", name="export", exit_on_error=False)
    def _export(self, directory: Path) -> None:
        from stepper.export.files import write_unique
        from stepper.export.markdown import render_markdown

        trace, labels = self.trace, self.whatif_labels
        elsewhere = self.quiz.elsewhere(trace, lambda other: f"the what-if edit {labels[id(other)]}"
                                        if id(other) in labels else "the original numbers")
        text = render_markdown(trace, verdicts=dict(self.checks), answers=self.quiz.results(trace),
                               elsewhere=elsewhere, whatif=self._whatif())
        path = write_unique(directory, f"{trace.scenario}-trace", ".md", text)
        # the view shown is the trace written: with an edit on hand, say which of the two that was
        which = ("the original trace, without the what-if edit (o shows the edited one, then e)"
                 if self.edited is not None and self.role != "edited" else
                 "the edited trace" if self.edited is not None else "the trace")
        self.app.call_from_thread(self.notify, f"Exported {which} to {path}", title="export")

    def _whatif(self) -> str:
        """The edit the trace on screen was recomputed after; "" for the scenario as written."""
        return self.whatif_labels.get(id(self.trace), "")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "export" and event.state == WorkerState.ERROR:
            self.app.push_screen(ErrorScreen("The export failed", str(event.worker.error)))
