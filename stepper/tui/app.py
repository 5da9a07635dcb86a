"""The stepper app and `run_app`, for a scenario in hand (tests, the launcher's fallback).

The fast start of `stepper run` (a first frame before numpy, a forked reader) is `stepper.tui.startup`,
which builds on this app; nothing here knows of it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App
from textual.message import Message

from stepper.tui.bindings import APP_BINDINGS
from stepper.tui.goto_provider import StepCommands
from stepper.tui.textual_guards import apply_textual_guards

if TYPE_CHECKING:  # numpy and the scenario package may load in a forked child first (see startup/)
    from stepper.scenario import Scenario
    from stepper.trace import Trace
    from stepper.verify.verdicts import Check


class TraceReady(Message):
    """A worker's answer: the trace of `scenario` (None: not built yet), or why there is none."""

    def __init__(self, scenario: Scenario | None, trace: Trace | None, error: str | None = None) -> None:
        super().__init__()
        self.scenario, self.trace, self.error = scenario, trace, error


class StepperApp(App[int]):
    CSS_PATH = Path(__file__).with_name("stepper.tcss")  # absolute, so subclasses elsewhere find it
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {StepCommands}
    TITLE = "stepper"

    def __init__(self, scenario: Scenario | None, trace: Trace | None = None, *, verify: bool = True,
                 quiz: bool = False, verdicts: dict[str, Check] | None = None) -> None:
        """`verdicts`: the trace's checks by step id, when they are known already (then no check
        against torch need run)."""
        super().__init__()
        apply_textual_guards()
        self.quitting = False
        self.failure: str | None = None  # why the trace could not be had: also printed once the app is gone
        self.scenario, self.trace, self.verify, self.quiz = scenario, trace, verify, quiz
        self.verdicts = verdicts
        from stepper.tui.keymap import read_keymap

        # the learner's keys (keymap.yaml), read now so that the first frame's footer shows them too
        self.keymap_in_use, self._keymap_problems = read_keymap()

    def on_mount(self) -> None:
        from stepper.tui.keymap import apply_keymap

        apply_keymap(self, self.keymap_in_use, self._keymap_problems)
        self.start()

    def start(self) -> None:
        """The main screen at once when the trace is in hand; else a loading screen while it is built."""
        if self.trace is not None:
            self.open_trace(self.trace)
            return
        from stepper.tui.screens.loading import LoadingScreen

        self.push_screen(LoadingScreen(self.scenario.name))
        self.build()

    def open_trace(self, trace: Trace):
        """The main screen on `trace`, over whatever is shown meanwhile; returns it."""
        from stepper.tui.screens.main import MainScreen

        self.trace = trace
        screen = MainScreen(self.scenario, trace, verify=self.verify, quiz=self.quiz, verdicts=self.verdicts)
        self.push_screen(screen)
        for warning in trace.warnings:  # e.g. a lesson that names no step: it would never be seen
            self.notify(warning.message, title=f"scenario warning, line {warning.line}", severity="warning",
                        timeout=12)
        return screen

    def build(self) -> None:
        """The trace of `self.scenario`, built off the UI thread; a TraceReady answers."""
        scenario = self.scenario

        def body() -> None:
            from stepper.engine import build_trace

            try:
                trace = build_trace(scenario)
            except Exception as exc:  # a ScenarioError is the learner's: shown as `FILE:LINE:COL: error: …`
                self.post_message(TraceReady(scenario, None, str(exc)))
            else:
                self.post_message(TraceReady(scenario, trace))

        self.run_worker(body, thread=True, group="trace build", exit_on_error=False)

    @on(TraceReady)
    def _trace_ready(self, event: TraceReady) -> None:
        if event.error is not None:
            self.fail(event.error)
        elif event.trace is None:  # too large for whoever read it to build: built here
            self.scenario = event.scenario
            self.build()
        else:
            self.scenario = event.scenario
            self.open_trace(event.trace)

    def fail(self, message: str) -> None:
        """No trace to show: say why in a dialog, and exit 2 once it is read."""
        if self.quitting:  # not the load a quit cut short
            return
        from stepper.tui.screens.error import ErrorScreen

        self.failure = message
        self.push_screen(ErrorScreen("Could not compute the trace", message),
                         callback=lambda _: self.exit(2, return_code=2))

    def action_help(self) -> None:
        from stepper.tui.screens.help import HelpScreen

        # (keys, how to read it) of a screen with keys of its own; not Textual's HELP, which its help panel
        # renders as markdown and a tuple would crash
        own = getattr(self.screen, "KEYS_HELP", None)
        if own is not None:
            self.push_screen(HelpScreen(self.COMMAND_PALETTE_BINDING, keys=own[0], reading=own[1]))
        elif not isinstance(self.screen, HelpScreen):
            description = self.scenario.description.strip() if self.scenario is not None else ""
            self.push_screen(HelpScreen(self.COMMAND_PALETTE_BINDING, description))

    def action_command_palette(self) -> None:
        from stepper.tui.palette import open_palette

        open_palette(self)  # Textual's palette, made safe against keys typed faster than it handles them

    def action_quit(self) -> None:
        self.quitting = True
        self.exit(0, return_code=0)


def run_app(scenario: Scenario, *, quiz: bool = False, trace: Trace | None = None,
            app: type[StepperApp] = StepperApp) -> int:
    """Open the stepper on `scenario`; returns the process exit code (0 on quit, 2 on a scenario error).

    `trace` may come ready-made; else it is built now when that is quick, or behind the loading screen.
    """
    from stepper.scenario.limits import SYNC_BUILD_LIMIT, build_cost  # loads numpy: not at import

    if trace is None and build_cost(scenario) <= SYNC_BUILD_LIMIT:
        from stepper.engine import build_trace
        from stepper.scenario import ScenarioError

        try:
            trace = build_trace(scenario)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 2
    return run(app(scenario, trace, quiz=quiz))


def run(app: StepperApp) -> int:
    """Runs the app; returns its exit code. A failure shown in its dialog is printed on stderr too,
    where the terminal keeps it: a scenario error as `FILE:LINE:COL: error: …`, as `check` prints it."""
    app.run()
    if app.failure is not None:
        print(app.failure, file=sys.stderr)
    return app.return_code if app.return_code is not None else 0
