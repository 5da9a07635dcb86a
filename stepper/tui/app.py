"""The stepper app and `run_app`, the one entry point the CLI calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from stepper.tui.bindings import APP_BINDINGS
from stepper.tui.cost import SYNC_BUILD_LIMIT, build_cost
from stepper.tui.goto_provider import StepCommands
from stepper.tui.launch import release_collector, resume_collector
from stepper.tui.textual_guards import apply_textual_guards

if TYPE_CHECKING:  # numpy and the scenario package load in the forked child first (see launch.py)
    from stepper.scenario import Scenario
    from stepper.trace import Check, Trace

class StepperApp(App[int]):
    CSS_PATH = Path(__file__).with_name("stepper.tcss")  # absolute, so subclasses elsewhere find it
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {StepCommands}
    TITLE = "stepper"

    def __init__(self, scenario: Scenario | None, trace: Trace | None = None, *, verify: bool = True,
                 quiz: bool = False, preview: tuple[dict | None, Callable[[], tuple]] | None = None,
                 preview_name: str = "", stop: Callable[[], None] | None = None,
                 verdicts: dict[str, Check] | None = None) -> None:
        """`preview`: (the first frame's text, what loads the trace), see `run_preview`; with no
        text, the loading screen shows `preview_name` meanwhile (`run_loading`). `stop` ends that
        loading at once, for a quit that should not wait for it. `verdicts`: the trace's checks by step
        id, when they are known already (then no check against torch need run)."""
        super().__init__()
        apply_textual_guards()
        self.preview_name, self._stop_loading, self._quitting = preview_name, stop, False
        self.failure: str | None = None  # why the trace could not be had: also printed once the app is gone
        self.scenario, self.trace, self.verify, self.quiz = scenario, trace, verify, quiz
        self.preview, self.verdicts = preview, verdicts
        from stepper.tui.keymap import read_keymap

        # the learner's keys (keymap.yaml), read now so that the first frame's footer shows them too
        self.keymap_in_use, self._keymap_problems = read_keymap()

    def get_default_screen(self) -> Screen:
        if self.preview is None:
            return super().get_default_screen()
        if self.preview[0] is None:  # the launcher's child is still reading a large scenario
            from stepper.tui.screens.loading import LoadingScreen

            return LoadingScreen(self.preview_name)
        from stepper.tui.screens.preview import PreviewScreen

        # the first frame is the app's first screen itself: no empty screen to mount beneath it
        return PreviewScreen(self.preview[0])

    def on_mount(self) -> None:
        from stepper.tui.keymap import apply_keymap

        apply_keymap(self, self.keymap_in_use, self._keymap_problems)
        if self.preview is not None:
            if self.preview[0] is None:
                resume_collector()  # a long wait, and the loading screen's animation makes garbage
            # numpy and the trace load only once the first frame is out, off the UI thread
            self.screen.call_after_refresh(self._unpack)
            return
        if self.trace is not None:
            self._open(self.trace)
            return
        from stepper.tui.screens.loading import LoadingScreen

        resume_collector()  # the build takes a while, and the loading screen's animation makes garbage
        self.push_screen(LoadingScreen(self.scenario.name))
        self._build()

    def _open(self, trace: Trace) -> None:
        from stepper.tui.screens.main import MainScreen

        self.trace = trace
        screen = MainScreen(self.scenario, trace, verify=self.verify, quiz=self.quiz, verdicts=self.verdicts)
        # keys pressed on the first frame (which may be under the help screen by now)
        held = next((s.held for s in self.screen_stack if hasattr(s, "held")), [])
        self.preview = None
        self.push_screen(screen)  # over the first frame, which it matches, or over the loading screen
        self.call_after_refresh(release_collector)
        for warning in trace.warnings:  # e.g. a lesson that names no step: it would never be seen
            self.notify(warning.message, title=f"scenario warning, line {warning.line}", severity="warning",
                        timeout=12)
        if held:
            self.call_after_refresh(self._replay, screen, held)

    async def _replay(self, screen: Screen, actions: list[str]) -> None:
        for action in actions:
            await self.run_action(action, screen)

    @work(thread=True, exclusive=True, name="trace load", exit_on_error=False)
    def _unpack(self) -> tuple:
        result = self.preview[1]()
        if result[0] != "ok":  # the child sent the first frame, then failed: shown as the worker's error
            raise RuntimeError(result[1])
        return result

    @work(thread=True, exclusive=True, name="trace build", exit_on_error=False)
    def _build(self) -> Trace:
        from stepper.engine import build_trace

        return build_trace(self.scenario)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name not in ("trace build", "trace load"):
            return
        if event.state == WorkerState.SUCCESS and event.worker.name == "trace load":
            _, self.scenario, trace = event.worker.result
            if trace is None:  # too large for the reader to build: built here, under the loading screen
                self._build()
            else:
                self._open(trace)
        elif event.state == WorkerState.SUCCESS:
            self._open(event.worker.result)
        elif event.state == WorkerState.ERROR and not self._quitting:  # not the load a quit cut short
            from stepper.tui.screens.error import ErrorScreen

            release_collector()  # the main screen will not come: start-up ends here
            self.failure = str(event.worker.error)
            self.push_screen(ErrorScreen("Could not compute the trace", self.failure),
                             callback=lambda _: self.exit(2, return_code=2))

    def action_help(self) -> None:
        from stepper.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            description = self.scenario.description.strip() if self.scenario is not None else ""
            self.push_screen(HelpScreen(self.COMMAND_PALETTE_BINDING, description))

    def action_command_palette(self) -> None:
        from stepper.tui.palette import open_palette

        open_palette(self)  # Textual's palette, made safe against keys typed faster than it handles them

    def action_quit(self) -> None:
        self._quitting = True
        if self.preview is not None and self._stop_loading is not None:
            self._stop_loading()  # the load worker's read ends now, so the exit need not wait for it
        self.exit(0, return_code=0)


def run_loading(name: str, load: Callable[[], tuple], *, quiz: bool = False,
                stop: Callable[[], None] | None = None) -> int:
    """Open the stepper on its loading screen while `load()` (off the UI thread) reads a large
    scenario; a scenario error found meanwhile is shown in a dialog and printed on stderr after it, and
    the exit code is 2."""
    app = StepperApp(None, None, quiz=quiz, preview=(None, load), preview_name=name, stop=stop)
    return _run(app)


def run_app(scenario: Scenario, *, quiz: bool = False, trace: Trace | None = None) -> int:
    """Open the stepper on `scenario`; returns the process exit code (0 on quit, 2 on a scenario error).

    `trace` may come ready-made (the launcher builds it in parallel with Textual's start-up).
    """
    if trace is None and build_cost(scenario) <= SYNC_BUILD_LIMIT:
        from stepper.engine import build_trace
        from stepper.scenario import ScenarioError

        try:
            trace = build_trace(scenario)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 2
    return _run(StepperApp(scenario, trace, quiz=quiz))


def run_preview(frame: dict, load: Callable[[], tuple], *, quiz: bool = False,
                stop: Callable[[], None] | None = None) -> int:
    """Open the stepper from the launcher's child: `frame` (plain text, see parts.first_frame) is
    painted at once; `load()` gives ('ok', scenario, trace), and is called off the UI thread after it."""
    return _run(StepperApp(None, None, quiz=quiz, preview=(frame, load), stop=stop))


def _run(app: StepperApp) -> int:
    """Runs the app; returns its exit code. A failure shown in its dialog is printed on stderr too,
    where the terminal keeps it: a scenario error as `FILE:LINE:COL: error: …`, as `check` prints it."""
    app.run()
    if app.failure is not None:
        print(app.failure, file=sys.stderr)
    return app.return_code if app.return_code is not None else 0
