"""The what-if half of the main screen: `w` edits a copy of the scenario, a worker recomputes
the whole trace and what moved, and `o` flips between the original and the edited trace."""

from __future__ import annotations

from functools import partial

from textual.worker import Worker, WorkerState

from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.screens.verifying import VerifyingScreen
from stepper.tui.whatif_view import Edited, EditRequest
from stepper.tui.widgets.pipeline import PipelineList
from stepper.tui.widgets.title_bar import TitleBar


class EditingScreen(VerifyingScreen):
    """Subclasses provide `_show(index)` and `_show_modes()`, and set `scenario`, `original`,
    `index` and `verify`."""

    scenario: Scenario
    original: Trace
    index: int
    verify: bool

    def __init__(self) -> None:
        super().__init__()
        self.edited: Edited | None = None
        self.whatif_labels: dict[int, str] = {}  # id(an edit's trace) → the edit it was recomputed after

    def action_edit(self) -> None:
        from stepper.tui.screens.edit import EditScreen

        scenario = self.edited.scenario if self.edited is not None else self.scenario
        self.app.push_screen(EditScreen(scenario, self.original, self.trace.steps[self.index],
                                        has_edits=self.edited is not None), self._apply_edit)

    def _apply_edit(self, request: EditRequest | None) -> None:
        from stepper.tui.whatif_view import apply, param_labels, recompute

        if request is None:
            return
        if request.kind == "reset":
            self.edited = None
            self.stop_checks("edited")
            self._use(self.original, "original")
            self.notify("Back to the original scenario: every edit undone.", timeout=3)
            return
        base = self.edited.scenario if self.edited is not None else self.scenario
        try:
            scenario, label = apply(base, request, param_labels(self.original))
        except (KeyError, ValueError, IndexError) as exc:
            self.notify(str(exc), title="what-if", severity="error")
            return
        if self.edited is not None:
            label = f"{self.edited.label}; {label}"
        self.query_one(TitleBar).set_mode(None, f"what-if {label} · recomputing…")
        self.run_worker(partial(recompute, self.original, scenario, label), thread=True, exclusive=True,
                        group="what-if", name="what-if", exit_on_error=False)

    def action_toggle_edit(self) -> None:
        if self.edited is None:
            self.notify("No what-if edit yet: press w to make one.", timeout=3)
        else:
            self._use(self.original if self.role == "edited" else self.edited.trace,
                      "original" if self.role == "edited" else "edited")

    def _changed_steps(self) -> set[int] | None:
        return self.edited.changed_steps if self.edited is not None else None

    def _use(self, trace: Trace, role: str) -> None:
        """Put another trace of the same steps on screen, at the same step."""
        self.trace, self.role = trace, role
        self.query_one(PipelineList).use(trace, changed=self._changed_steps())
        self.reset_badges()
        self._show(self.index)
        self._show_modes()
        self.refresh_bindings()

    def _edited(self, edited: Edited) -> None:
        self.edited = edited
        self.whatif_labels[id(edited.trace)] = edited.label
        self._use(edited.trace, "edited")
        if self.verify:
            self.start_checks("edited", edited.scenario, edited.trace)
        reached = len(edited.changed_steps)
        self.notify(f"{reached} of {len(edited.trace.steps)} steps changed (◆); • marks the cells. "
                    "o flips between original and edited.", title="what-if", timeout=5)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "what-if":
            return
        if event.state == WorkerState.SUCCESS:
            self._edited(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self._show_modes()
            self.app.push_screen(ErrorScreen("The what-if recompute failed", str(event.worker.error)))
