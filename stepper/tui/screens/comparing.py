"""What the main screen compares the original trace with: a what-if edit (`w` makes one, `o` flips to
it and back) and, for a scenario that trains, the same example after training (`t` flips before/after).

Either is an `Edited`: the traced example's trace and, per step, what moved against the original. The
trace after training is built in a worker once the first frame is out (`TrainedReady` answers), then
checked against torch in the verifier process like any other; the screen shows one role at a time
("original", "edited" or "trained") and stays on the same step when it switches."""

from __future__ import annotations

from functools import partial

from textual.message import Message

from stepper.insight.before_after import trained_scenario
from stepper.present.training_view import UpdateView
from stepper.trace import Trace
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.whatif_view import Edited
from stepper.tui.whatif_work import EditRecomputed, apply_edit

TRAINED_LABEL = "after training"


class TrainedReady(Message):
    """The worker's answer: the traced example after training, compared with before, and every update
    as the training screen shows it; or `error`."""

    def __init__(self, after: Edited | None, views: list[UpdateView] | None = None, error: str | None = None) -> None:
        super().__init__()
        self.after, self.views, self.error = after, views, error


def trains(trace: Trace) -> bool:
    return trace.training is not None and bool(trace.trained)


class Comparisons:
    """The main screen's what-if and before/after actions (a mixin of MainScreen: it keeps the state)."""

    def start_after_training(self) -> None:
        """Build the trace after training off the UI thread; a TrainedReady answers."""
        original, scenario = self.original, self.scenario

        def body() -> None:
            from stepper.engine import build_trace
            from stepper.present.training_view import update_views
            from stepper.tui.whatif_view import step_changes

            try:
                views = update_views(original.training, original.config)
                after_scenario = trained_scenario(scenario, original)
                trace = build_trace(after_scenario)
                after = Edited(after_scenario, trace, step_changes(original, trace), TRAINED_LABEL)
            except Exception as exc:
                self.post_message(TrainedReady(None, error=f"{type(exc).__name__}: {exc}"))
            else:
                self.post_message(TrainedReady(after, views))

        self.run_worker(body, thread=True, exclusive=True, group="after training", exit_on_error=False)

    def on_trained_ready(self, event: TrainedReady) -> None:
        if event.after is None:
            self.app.push_screen(ErrorScreen("Building the trace after training failed", event.error))
            return
        self.after, self.update_views = event.after, event.views
        self.check_after_training()
        self.refresh_bindings()

    def check_after_training(self) -> None:
        """Check the trace after training against torch once the original's checks are over: two torch
        processes at once would slow both, on the two cores a laptop may have."""
        runs = self.checks.runs
        original_done = "original" in runs and not runs["original"].running or (
            len(self.checks.verdicts["original"]) == len(self.original.steps))
        if self.verify and self.after is not None and "trained" not in runs and original_done:
            self.checks.start(self, "trained", self.after.scenario)
            self.summarise_checks()

    def action_toggle_trained(self) -> None:
        if not trains(self.original):
            self.notify("This scenario does not train: there is no after.", timeout=3)
        elif self.after is None:
            self.notify("The trace after training is still being built: press t again in a moment.",
                        title="after training", timeout=3)
        elif self.role == "trained":
            self._use(self.original, "original")
        else:
            self._use(self.after.trace, "trained")

    def action_training(self) -> None:
        from stepper.tui.screens.training import TrainingScreen

        if not trains(self.original):
            self.notify("This scenario does not train: there is no training to show.", timeout=3)
        elif self.update_views is None:
            self.notify("The training screen is still being prepared: press T again in a moment.",
                        title="training", timeout=3)
        else:
            self.app.push_screen(TrainingScreen(self.original, self.update_views, self.training_cursor,
                                                open_heads=self.action_heads), self._training_closed)

    def action_heads(self) -> None:
        """The heads view (`H`, here or on the training screen): its numbers are computed on the first
        visit, in the view's worker, and kept here for the next."""
        from stepper.insight.trained import has_trained_model
        from stepper.tui.screens.heads import HeadsScreen

        if not trains(self.original) or self.original.config["model"]["kind"] == "mlp":
            self.notify("The heads view needs a transformer that trains.", timeout=3)
        elif not has_trained_model(self.original):
            self.notify("Training stopped before its end: there is no trained model to show.", timeout=4)
        else:
            after = self.after.trace if self.after is not None else None
            self.app.push_screen(HeadsScreen(self.original, self.trained_insight, after,
                                             keep=lambda insight: setattr(self, "trained_insight", insight)))

    def _training_closed(self, answer: tuple[int, bool]) -> None:
        """The training screen's answer: where its cursor was (it opens there again), and whether to go
        to the first update's steps."""
        self.training_cursor, to_steps = answer
        if to_steps:
            if self.role != "original":
                self._use(self.original, "original")
            first = next((i for i, s in enumerate(self.trace.steps) if s.phase == "update"), self.index)
            self.go_to(first)

    def compared(self) -> Edited | None:
        """Whose changes are marked on screen: training's on the trace after it; else a what-if edit's,
        on the edited numbers and on the original ones alike (o flips between them, the same cells marked)."""
        return self.after if self.role == "trained" else self.edited

    def _changed_steps(self) -> set[int] | None:  # the steps the edit or training on screen reached
        compared = self.compared()
        return compared.changed_steps if compared is not None else None

    def _use(self, trace: Trace, role: str) -> None:
        """Put another trace of the same example on screen, at the same step when it has it (the trace
        after training has no training steps: then the last step before them)."""
        step_id = self.trace.steps[self.index].id
        ids = [s.id for s in trace.steps]
        if step_id in ids:
            index = ids.index(step_id)
        else:
            earlier = [s.id for s in self.trace.steps[:self.index]]
            index = max((ids.index(i) for i in earlier if i in ids), default=0)
            self.notify(f"The trace {'after' if role == 'trained' else 'shown'} has no step “{self.trace.steps[self.index].title}”"
                        f": showing step {index + 1}.", timeout=4)
        self.trace, self.role = trace, role
        self.query_one("#pipeline").use(trace, self.verdicts, changed=self._changed_steps())
        self.set_reactive(type(self).index, index)  # shown once, below, not once more by the watcher
        self._show(index)
        self._show_modes()
        self.refresh_bindings()

    # ---- what-if: `w` edits a copy of the scenario (whatif_work.py), `o` flips original/edited

    def action_edit(self) -> None:
        from stepper.tui.screens.edit import EditScreen

        scenario = self.edited.scenario if self.edited is not None else self.scenario
        self.app.push_screen(EditScreen(scenario, self.original, self.trace.steps[self.index],
                                        has_edits=self.edited is not None), partial(apply_edit, self))

    def undo_edits(self) -> None:
        self.edited = None
        self.checks.stop("edited")
        self._use(self.original, "original")
        self.notify("Back to the original scenario: every edit undone.", timeout=3)

    def action_toggle_edit(self) -> None:
        if self.edited is None:
            self.notify("No what-if edit yet: press w to make one.", timeout=3)
        else:
            self._use(self.original if self.role == "edited" else self.edited.trace,
                      "original" if self.role == "edited" else "edited")

    def on_edit_recomputed(self, event: EditRecomputed) -> None:
        self.show_edit(event)

    def show_edit(self, event: EditRecomputed) -> None:
        if event.edited is None:
            self._show_modes()
            self.app.push_screen(ErrorScreen("The what-if recompute failed", event.error))
            return
        edited = self.edited = event.edited
        self.whatif_labels[id(edited.trace)] = edited.label
        if self.verify:
            self.checks.start(self, "edited", edited.scenario)
        else:
            self.checks.stop("edited")  # the last edit's verdicts are not this one's
        self._use(edited.trace, "edited")
        reached = len(edited.changed_steps)
        self.notify(f"{reached} of {len(edited.trace.steps)} steps changed (◆); • marks the cells. "
                    "o flips between original and edited.", title="what-if", timeout=5)
