"""The stepper: pipeline on the left, the current step in the middle, its meaning and check beside.

Learning modes live here too: the quiz (`z`: predict a step's output before it is shown), what-if edits
(`w`: change a number, see everything downstream move; `o`: original/edited), before/after training (`t`)
the training screen (`T`) and the heads view (`H`); comparing.py holds the comparisons. Workers answer with typed messages:
verdicts (checking.py), an edit (whatif_work.py), the trace after training (comparing.py), an export."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input

from stepper.present.captions import spoiler_free
from stepper.present.cross import memory_readers, memory_step
from stepper.present.provenance import stale_lesson
from stepper.present.stacks import is_seq2seq
from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.bindings import MODE_BINDINGS, STEP_BINDINGS
from stepper.tui.checking import WORK_NAMES, ChecksEnded, StepsVerified, TorchChecks, status
from stepper.tui.exporting import ExportDone, start_export
from stepper.tui.goto_provider import StepCommands
from stepper.tui.palette import open_palette
from stepper.tui.quizzing import QuizState
from stepper.tui.screens.comparing import Comparisons, trains
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.whatif_view import Edited
from stepper.tui.widgets.details import Details
from stepper.tui.widgets.key_bar import KeyBar
from stepper.tui.widgets.pipeline import PipelineList
from stepper.tui.widgets.quiz_box import QuizBox
from stepper.tui.widgets.step_panel import StepPanel
from stepper.tui.widgets.title_bar import AFTER_TRAINING, BEFORE_TRAINING, TitleBar
from stepper.verify.verdicts import Check

VERIFY_DELAY = 0.25
# while the quiz's answer box has focus these keys are letters of the answer, not steps
TYPING_BLOCKS = frozenset(b.action.split("(")[0] for b in STEP_BINDINGS)


class MainScreen(Comparisons, Screen):
    BINDINGS = [*STEP_BINDINGS, *MODE_BINDINGS]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (50, "-very-tall")]

    index: reactive[int] = reactive(0, init=False)

    def __init__(self, scenario: Scenario, trace: Trace, *, verify: bool = True, quiz: bool = False,
                 verdicts: dict[str, Check] | None = None) -> None:
        """`verdicts`: the original trace's checks, by step id, when they are known already."""
        super().__init__()
        self.scenario, self.verify = scenario, verify
        self.original = self.trace = trace  # `trace` is the one on screen: the original or the edit's
        self.role = "original"  # or "edited", "trained": whose trace is on screen
        self.edited: Edited | None = None
        self.after: Edited | None = None  # the traced example after training, once a worker has built it
        self.update_views: list | None = None  # the training screen's updates, made by the same worker
        self.training_cursor = 0  # the update the training screen's cursor was left on
        self.trained_insight = None  # the heads view's summaries, once its worker has made them
        # every edit's label, by id(trace) (the quiz keeps those traces alive): what the export calls them
        self.whatif_labels: dict[int, str] = {}
        self.checks = TorchChecks(verdicts)
        self.quiz = QuizState(quiz)
        self._answer_wanted: int | None = None  # the step whose answer box is to take focus once shown
        self._came_from: int | None = None  # the step `m` last jumped from, to go back to

    def compose(self) -> ComposeResult:
        yield TitleBar(self.trace.scenario, self.trace.title, id="title-bar")
        with Horizontal(id="body"):
            yield PipelineList(self.trace, self.verdicts, id="pipeline")
            with Container(id="main"):
                yield StepPanel(id="step")
                yield Details(id="details")
        yield KeyBar()

    def on_mount(self) -> None:
        # filled in synchronously so the very first frame already shows the first step
        if self.quiz.on:
            self.query_one(PipelineList).use(self.trace, self.verdicts, title=spoiler_free)
        self._show(self.index)
        self._show_modes()
        if trains(self.original):  # once the first frame is out: it never waits for this
            self.call_after_refresh(self.start_after_training)
        if len(self.verdicts) < len(self.trace.steps) and self.verify:
            self.query_one(TitleBar).set_status("checking against torch…")
            # torch takes a second or more to import and holds the GIL while it does: start
            # only once the first frame is out, plus a moment for the terminal to draw it
            self.call_after_refresh(self.set_timer, VERIFY_DELAY, self._check_original)

    def _check_original(self) -> None:
        self.checks.start(self, "original", self.scenario)
        self.summarise_checks()

    def on_unmount(self) -> None:
        self.checks.stop_all()

    @property
    def verdicts(self) -> dict[str, Check]:
        """The checks of the trace on screen, by step id, as they have arrived."""
        return self.checks.verdicts[self.role]

    def on_resize(self) -> None:
        # 80 columns cannot hold every key and the palette hint; g and ? still name the palette
        self.query_one(KeyBar).set_class(self.size.width < 100, "-no-palette")
        self.summarise_checks()  # its words depend on the width too

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # typing an answer here, in the quiz box; the command palette's input is another screen's
        typing = isinstance(self.app.focused, Input) and self.app.focused.screen is self
        if action == "leave_question":  # also while a question's box is about to take focus
            return typing or self._answer_wanted is not None
        if typing and action in TYPING_BLOCKS:
            return False  # the key goes on to the answer box
        if action == "toggle_edit":
            return self.edited is not None  # in the key bar only once there is an edit to flip to
        if action in ("toggle_trained", "training", "heads"):
            return trains(self.original)  # a scenario that does not train has no before/after
        if action == "memory":
            return is_seq2seq(self.original)  # only an encoder–decoder has a memory to jump to
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
        compared = self.compared()
        changes = compared.changes.get(step.id) if compared is not None else None
        self.query_one(PipelineList).show_step(index)
        self.query_one(StepPanel).show(self.trace, index, question=question, verdict=verdict, changes=changes,
                                       moved_by="training" if self.role == "trained" else "edit")
        self._show_details(index, asking=asking)
        self._answer_wanted = index if asking else None
        if asking:  # once the box is displayed; unless the learner has left it (Esc) or the step meanwhile
            self.call_after_refresh(self._focus_answer, index)
        elif isinstance(self.app.focused, Input):
            self._leave_answer_box()

    # ---- checks against torch ------------------------------------------------------------

    @on(StepsVerified)
    def _verified(self, event: StepsVerified) -> None:
        if not self.checks.take(event) or event.role != self.role:
            return  # a stopped run's, or the other trace's: its badges show when it is on screen
        fresh = [i for i, s in enumerate(self.trace.steps) if s.id in event.verdicts]
        self.query_one(PipelineList).refresh_badges(fresh)
        if self.index in fresh:
            self._show_details(self.index, asking=self.quiz.pending(self.trace, self.index))
        self.summarise_checks()

    @on(ChecksEnded)
    def _checks_ended(self, event: ChecksEnded) -> None:
        if not self.checks.end(event):
            return
        self.summarise_checks()
        if event.role == "original":
            self.check_after_training()
        if event.error is not None:
            self.app.push_screen(ErrorScreen(f"The {WORK_NAMES[event.role]} failed", event.error))

    def summarise_checks(self) -> None:
        bar = self.query_one(TitleBar)
        # the short words below 100 columns, or beside the quiz score or the what-if edit
        short = self.size.width < 100 or bar.query_one("#mode").display
        bar.set_status(*status(self.trace.steps, self.verdicts, self.checks.runs.get(self.role), short))

    def _show_details(self, index: int, *, asking: bool) -> None:
        step = self.trace.steps[index]
        self.query_one(Details).show(step, self.verdicts.get(step.id), asking=asking, shown=self.role,
                                     stale=stale_lesson(self.trace, step))

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

    action_forward_start = action_first  # the forward pass starts at step 1

    def action_last(self) -> None:
        self.go_to(len(self.trace.steps) - 1)

    def action_backward_start(self) -> None:
        self.go_to(self.trace.first_backward())

    def action_memory(self) -> None:
        """From a decoder layer's cross-attention step to the encoder step it reads (backward: the step
        summing the memory's gradient), and back: to the step it came from, else the first that reads it."""
        here = self.index
        there = memory_step(self.trace, here)
        if there is None:
            readers = memory_readers(self.trace, here)
            came = self._came_from is not None and memory_step(self.trace, self._came_from) == here
            back = self._came_from if came else (readers[0] if readers else None)
            if back is None:
                self.notify("m jumps between a decoder layer's cross-attention and the encoder output "
                            "(the memory) it reads: go to a cross-attention step first.", timeout=4)
                return
            there = back
        self._came_from = here
        self.go_to(there)

    def action_go_to(self) -> None:
        open_palette(self.app, providers=[StepCommands], placeholder="Go to step… (fuzzy)")

    def action_scroll_step(self, pages: int) -> None:
        panel = self.query_one(StepPanel)
        (panel.scroll_page_down if pages > 0 else panel.scroll_page_up)(animate=False)

    # ---- quiz ----------------------------------------------------------------------------

    def action_toggle_quiz(self) -> None:
        self.quiz.on = not self.quiz.on
        self.query_one(PipelineList).use(self.trace, self.verdicts, changed=self._changed_steps(),
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
        training = None
        if trains(self.original):  # which of the two the numbers are, whenever there are two
            training = AFTER_TRAINING if self.role == "trained" else BEFORE_TRAINING
        self.query_one(TitleBar).set_mode(quiz, whatif, training)
        self.summarise_checks()  # the verdict beside a mode takes its short words

    # ---- export ------------------------------------------------------------------------

    def action_cost(self) -> None:
        from stepper.tui.screens.cost import CostScreen

        self.app.push_screen(CostScreen(self.scenario))

    def action_export(self) -> None:
        start_export(self)

    @on(ExportDone)
    def _exported(self, event: ExportDone) -> None:
        if event.error is not None:
            self.app.push_screen(ErrorScreen("The export failed", event.error))
        else:
            self.notify(f"Exported {event.which} to {event.path}", title="export")
