"""The stepper: pipeline on the left, the current step in the middle, its meaning and check beside."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.command import CommandPalette
from textual.containers import Container, Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.bindings import STEP_BINDINGS
from stepper.tui.commands import StepCommands
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.widgets.details import Details
from stepper.tui.widgets.pipeline import PipelineList
from stepper.tui.widgets.step_panel import StepPanel
from stepper.tui.widgets.title_bar import TitleBar

POLL_SECONDS = 0.1
VERIFY_DELAY = 0.25


class MainScreen(Screen):
    BINDINGS = STEP_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (50, "-very-tall")]

    index: reactive[int] = reactive(0, init=False)

    def __init__(self, scenario: Scenario, trace: Trace, *, verify: bool = True) -> None:
        super().__init__()
        self.scenario, self.trace, self.verify = scenario, trace, verify
        self._checked: set[int] = set()

    def compose(self) -> ComposeResult:
        yield TitleBar(self.trace.scenario, self.trace.title, id="title-bar")
        with Horizontal(id="body"):
            yield PipelineList(self.trace, id="pipeline")
            with Container(id="main"):
                yield StepPanel(self.trace, id="step")
                yield Details(id="details")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # filled in synchronously so the very first frame already shows the first step
        self._show(self.index)
        self._poll_checks()
        if len(self._checked) == len(self.trace.steps):
            self._summarise_checks(WorkerState.SUCCESS)
        elif self.verify:
            self.query_one(TitleBar).set_status("checking against torch…")
            # torch takes a second or more to import and holds the GIL while it does: start
            # only once the first frame is out, plus a moment for the terminal to draw it
            self.call_after_refresh(self.set_timer, VERIFY_DELAY, self._verify)

    # ---- navigation -------------------------------------------------------------------

    def go_to(self, index: int) -> None:
        self.index = max(0, min(index, len(self.trace.steps) - 1))

    def watch_index(self, index: int) -> None:
        self._show(index)

    def _show(self, index: int) -> None:
        self.query_one(PipelineList).show_step(index)
        self.query_one(StepPanel).show(index)
        self.query_one(Details).show(self.trace.steps[index])

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
        self.app.push_screen(CommandPalette(providers=[StepCommands], placeholder="Go to step… (fuzzy)"))

    def action_scroll_step(self, pages: int) -> None:
        panel = self.query_one(StepPanel)
        (panel.scroll_page_down if pages > 0 else panel.scroll_page_up)(animate=False)

    # ---- export ------------------------------------------------------------------------

    def action_export(self) -> None:
        self._export(Path.cwd())

    @work(thread=True, exclusive=True, group="export", name="export", exit_on_error=False)
    def _export(self, directory: Path) -> None:
        from stepper.export.files import write_unique
        from stepper.export.markdown import render_markdown

        path = write_unique(directory, f"{self.trace.scenario}-trace", ".md", render_markdown(self.trace))
        self.app.call_from_thread(self.notify, f"Exported the trace to {path}", title="export")

    # ---- verification ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="verify", name="verification", exit_on_error=False)
    def _verify(self) -> None:
        # the thread only waits on a separate process, where torch is imported and run
        from stepper.tui.verifier import Verifier

        self.verifier = Verifier()
        by_id = {step.id: step for step in self.trace.steps}

        def deliver(step_id: str, check) -> None:
            if step_id in by_id:
                by_id[step_id].check = check

        self.verifier.run(self.scenario, deliver)

    def on_unmount(self) -> None:
        if getattr(self, "verifier", None) is not None:
            self.verifier.stop()

    def _poll_checks(self) -> None:
        """Badges fill in as `verify_trace` sets each step's check from its thread."""
        fresh = [i for i, s in enumerate(self.trace.steps) if s.check is not None and i not in self._checked]
        if not fresh:
            return
        self._checked.update(fresh)
        self.query_one(PipelineList).refresh_badges(fresh)
        if self.index in fresh:
            self.query_one(Details).show(self.trace.steps[self.index])

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.name == "verification":
            if event.state == WorkerState.RUNNING:
                self._poll_timer = self.set_interval(POLL_SECONDS, self._poll_checks)
            elif event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
                self._poll_timer.stop()
                self._poll_checks()
                self._summarise_checks(event.state)
        if event.state == WorkerState.ERROR:
            self.app.push_screen(ErrorScreen(f"The {worker.name} failed", str(worker.error)))

    def _summarise_checks(self, state: WorkerState) -> None:
        bar = self.query_one(TitleBar)
        total = len(self.trace.steps)
        bad = sum(1 for s in self.trace.steps if s.check is not None and not s.check.ok)
        done = sum(1 for s in self.trace.steps if s.check is not None)
        if state != WorkerState.SUCCESS:
            bar.set_status(f"✗ verification stopped ({done}/{total} checked)", "bold $text-error")
        elif bad:
            bar.set_status(f"✗ {bad} of {total} steps disagree with torch", "bold $text-error")
        else:
            bar.set_status(f"✓ all {total} steps agree with torch", "$text-success")
