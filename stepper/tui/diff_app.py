"""The diff app and `run_diff_app`, which `stepper diff A B --tui` calls."""

from __future__ import annotations

import sys
from pathlib import Path

from textual import work
from textual.app import App
from textual.worker import Worker, WorkerState

from stepper.scenario import Scenario, ScenarioError
from stepper.trace import Trace
from stepper.tui.bindings import APP_BINDINGS, DIFF_BINDINGS
from stepper.tui.textual_guards import apply_textual_guards

READING = """\
The list is A's pipeline. Beside each step: = when A and B agree exactly, the largest |B − A| of
its outputs when they differ, "A only" when B has no such step. Steps that only B has are listed
at the end. Each output is shown as A, B and Δ = B − A; Δ has its own colour scale, so even a
tiny difference shows where it is (its size is in the heading). Pairing is by step id, so two
scenarios of different structure (1 head vs 2, with or without the √d_k scale) still line up."""


class DiffApp(App[int]):
    CSS_PATH = Path(__file__).with_name("stepper.tcss")
    BINDINGS = APP_BINDINGS
    TITLE = "stepper diff"

    def __init__(self, a: Scenario, b: Scenario, traces: tuple[Trace, Trace] | None = None) -> None:
        super().__init__()
        apply_textual_guards()
        self.a, self.b, self.traces = a, b, traces

    def on_mount(self) -> None:
        from stepper.tui.keymap import apply_keymap, read_keymap

        self.keymap_in_use, problems = read_keymap()
        apply_keymap(self, self.keymap_in_use, problems)
        if self.traces is not None:
            self._open(*self.traces)
            return
        from stepper.tui.screens.loading import LoadingScreen

        self.push_screen(LoadingScreen(f"{self.a.name} and {self.b.name}"))
        self._build()

    def _open(self, a: Trace, b: Trace) -> None:
        from stepper.diff import diff_traces
        from stepper.tui.screens.diff import DiffScreen

        self.push_screen(DiffScreen(a, b, diff_traces(a, b)))

    @work(thread=True, exclusive=True, name="trace build", exit_on_error=False)
    def _build(self) -> tuple[Trace, Trace]:
        from stepper.engine import build_trace

        return build_trace(self.a), build_trace(self.b)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "trace build":
            return
        if event.state == WorkerState.SUCCESS:
            self._open(*event.worker.result)
        elif event.state == WorkerState.ERROR:
            from stepper.tui.screens.error import ErrorScreen

            self.push_screen(ErrorScreen("Could not compute the traces", str(event.worker.error)),
                             callback=lambda _: self.exit(2, return_code=2))

    def action_help(self) -> None:
        from stepper.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.COMMAND_PALETTE_BINDING, keys=DIFF_BINDINGS, reading=READING,
                                        palette="command palette (themes…)"))

    def action_command_palette(self) -> None:
        from stepper.tui.palette import open_palette

        open_palette(self)  # Textual's palette, made safe against keys typed faster than it handles them

    def action_quit(self) -> None:
        self.exit(0, return_code=0)


def run_diff_app(scenario_a: Scenario, scenario_b: Scenario) -> int:
    """Open the diff view of two scenarios; returns the exit code (0 on quit, 2 on a scenario error)."""
    from stepper.scenario.limits import SYNC_BUILD_LIMIT, build_cost

    traces = None
    if max(build_cost(scenario_a), build_cost(scenario_b)) <= SYNC_BUILD_LIMIT:
        from stepper.engine import build_trace

        try:
            traces = (build_trace(scenario_a), build_trace(scenario_b))
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 2
    app = DiffApp(scenario_a, scenario_b, traces)
    app.run()
    return app.return_code if app.return_code is not None else 0
