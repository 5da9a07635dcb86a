"""The verification half of the main screen: each trace shown (the original, a what-if edit's)
is checked against torch in its own process, and the badges fill in as the checks arrive."""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from stepper.scenario import Scenario
from stepper.trace import Trace
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.widgets.pipeline import PipelineList
from stepper.tui.widgets.title_bar import TitleBar
from stepper.verify.verdicts import Check

POLL_SECONDS = 0.1
# worker names, also what an error modal calls the failed work
ROLES = {"original": "verification", "edited": "verification of the edit"}


class VerifyingScreen(Screen):
    """Subclasses set `self.trace` (the trace on screen) and `self.role` ("original" | "edited")."""

    trace: Trace
    role: str

    def __init__(self) -> None:
        super().__init__()
        # role → step id → Check, as the verifier's process delivers them: the Trace itself is never written
        self.verdicts: dict[str, dict[str, Check]] = {}
        self._checked: set[int] = set()
        self._verifiers: dict[str, object] = {}
        self._states: dict[str, WorkerState] = {}
        self._poll_timer = None

    def start_checks(self, role: str, scenario: Scenario, trace: Trace) -> None:
        from stepper.tui.verifier import Verifier

        self.stop_checks(role)  # an older edit's checks are of no use any more
        verifier = self._verifiers[role] = Verifier()
        ids = {step.id for step in trace.steps}
        found = self.verdicts[role] = {}

        def deliver(step_id: str, check) -> None:
            if step_id in ids:
                found[step_id] = check

        def body() -> None:
            # the thread only waits on a separate process, where torch is imported and run
            try:
                verifier.run(scenario, deliver)
            except Exception:
                if not verifier.stopped:
                    raise

        self._states[role] = WorkerState.RUNNING
        self.run_worker(body, thread=True, exclusive=True, group=role, name=ROLES[role], exit_on_error=False)
        self.summarise_checks()

    def stop_checks(self, role: str) -> None:
        if (verifier := self._verifiers.pop(role, None)) is not None:
            verifier.stop()
        self._states.pop(role, None)

    def on_unmount(self) -> None:
        for verifier in self._verifiers.values():
            verifier.stop()

    @property
    def checks(self) -> dict[str, Check]:
        """The verdicts of the trace on screen, by step id."""
        return self.verdicts.setdefault(self.role, {})

    def reset_badges(self) -> None:
        """After the trace on screen changed: every badge from its own checks."""
        pipeline = self.query_one(PipelineList)
        pipeline.checks = self.checks
        pipeline.refresh_badges()
        self._checked = {i for i, s in enumerate(self.trace.steps) if s.id in self.checks}
        self.summarise_checks()

    def poll_checks(self) -> list[int]:
        """Badges fill in as the verifier sets each step's check from its thread; returns the fresh ones."""
        checks = self.query_one(PipelineList).checks = self.checks
        fresh = [i for i, s in enumerate(self.trace.steps) if s.id in checks and i not in self._checked]
        if fresh:
            self._checked.update(fresh)
            self.query_one(PipelineList).refresh_badges(fresh)
        return fresh

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        role = next((r for r, name in ROLES.items() if name == event.worker.name), None)
        if role is None:
            return
        if event.state == WorkerState.RUNNING and self._poll_timer is None:
            self._poll_timer = self.set_interval(POLL_SECONDS, self.poll_checks)
        elif event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._states[role] = event.state
            if all(s != WorkerState.RUNNING for s in self._states.values()) and self._poll_timer is not None:
                self._poll_timer.stop()
                self._poll_timer = None
            self.poll_checks()
            self.summarise_checks()
            if event.state == WorkerState.ERROR:
                self.app.push_screen(ErrorScreen(f"The {event.worker.name} failed", str(event.worker.error)))

    def summarise_checks(self) -> None:
        bar = self.query_one(TitleBar)
        steps = self.trace.steps
        found = [c for s in steps if (c := self.checks.get(s.id)) is not None]
        total, done = len(steps), len(found)
        bad = sum(1 for c in found if not c.ok)
        idle = sum(1 for c in found if not c.compared)
        state = self._states.get(self.role)
        # the short words below 100 columns, or beside the quiz score or the what-if edit
        short = self.size.width < 100 or bar.query_one("#mode").display
        if done == total and not bad:
            # a step with nothing to compare is not counted as agreeing
            if short:
                counted = f"{total - idle}/{total - idle} agree with torch"
            elif idle:
                counted = f"{total - idle}/{total - idle} checked steps agree with torch"
            else:
                counted = f"all {total} steps agree with torch"
            bar.set_status(f"✓ {counted}", "$text-success")
        elif state == WorkerState.RUNNING:
            bar.set_status("checking…" if short else "checking against torch…")
        elif bad:
            bar.set_status(f"✗ {bad}/{total} disagree" if short else f"✗ {bad} of {total} steps disagree with torch",
                           "bold $text-error")
        elif state is not None:
            bar.set_status(f"✗ verification stopped ({done}/{total} checked)", "bold $text-error")
        else:  # no check asked for (or none started yet): nothing to say
            bar.set_status("")
