"""The stepper app and `run_app`, the one entry point the CLI calls."""

from __future__ import annotations

import sys
from pathlib import Path

from textual import work
from textual.app import App
from textual.worker import Worker, WorkerState

from stepper.scenario import Scenario, ScenarioError
from stepper.trace import Trace
from stepper.tui.bindings import APP_BINDINGS
from stepper.tui.commands import StepCommands

# Below this many multiply-adds the trace is built before the app starts (a few ms), so the
# first frame shows the first step; above it the build runs in a worker behind a loading screen.
SYNC_BUILD_LIMIT = 20_000_000


def build_cost(scenario: Scenario) -> int:
    m = scenario.model
    t, d, f, v = max(len(scenario.tokens), 1), m.d_model, m.d_ff, max(len(scenario.vocab), 1)
    per_layer = t * d * d * 4 + 2 * t * t * d + 2 * t * d * f
    return 3 * (m.n_layers * per_layer + t * d * v)  # forward plus roughly twice that backward


class StepperApp(App[int]):
    CSS_PATH = Path(__file__).with_name("stepper.tcss")  # absolute, so subclasses elsewhere find it
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {StepCommands}
    TITLE = "stepper"

    def __init__(self, scenario: Scenario, trace: Trace | None = None, *, verify: bool = True,
                 quiz: bool = False) -> None:
        super().__init__()
        self.scenario, self.trace, self.verify, self.quiz = scenario, trace, verify, quiz

    def on_mount(self) -> None:
        if self.trace is not None:
            self._open(self.trace)
            return
        from stepper.tui.screens.loading import LoadingScreen

        self.push_screen(LoadingScreen(self.scenario.name))
        self._build()

    def _open(self, trace: Trace) -> None:
        from stepper.tui.screens.main import MainScreen

        self.trace = trace
        self.push_screen(MainScreen(self.scenario, trace, verify=self.verify))
        if self.quiz:
            self.notify("Quiz mode is not part of this version yet; showing the stepper.", timeout=4)

    @work(thread=True, exclusive=True, name="trace build", exit_on_error=False)
    def _build(self) -> Trace:
        from stepper.engine import build_trace

        return build_trace(self.scenario)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "trace build":
            return
        if event.state == WorkerState.SUCCESS:
            self._open(event.worker.result)
        elif event.state == WorkerState.ERROR:
            from stepper.tui.screens.error import ErrorScreen

            self.push_screen(ErrorScreen("Could not compute the trace", str(event.worker.error)),
                             callback=lambda _: self.exit(2, return_code=2))

    def action_help(self) -> None:
        from stepper.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.COMMAND_PALETTE_BINDING, self.scenario.description.strip()))

    def action_quit(self) -> None:
        self.exit(0, return_code=0)


def run_app(scenario: Scenario, *, quiz: bool = False, trace: Trace | None = None) -> int:
    """Open the stepper on `scenario`; returns the process exit code (0 on quit, 2 on a scenario error).

    `trace` may come ready-made (the launcher builds it in parallel with Textual's start-up).
    """
    if trace is None and build_cost(scenario) <= SYNC_BUILD_LIMIT:
        from stepper.engine import build_trace

        try:
            trace = build_trace(scenario)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 2
    app = StepperApp(scenario, trace, quiz=quiz)
    app.run()
    return app.return_code if app.return_code is not None else 0
