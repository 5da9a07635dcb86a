"""Checking against torch, for the main screen: each trace shown (the original, a what-if edit's) is
checked in its own process (verifier.py); a worker thread waits on it and posts what arrives as
typed messages. The screen keeps the verdicts; nothing here writes to a Step or the Trace."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from stepper.scenario import Scenario
from stepper.trace import Step
from stepper.verify.verdicts import Check

# verdicts wait this long in the worker before going out together: one repaint for many steps
BATCH_SECONDS = 0.1
# what an error dialog calls the failed work
WORK_NAMES = {"original": "verification", "edited": "verification of the edit",
              "trained": "verification after training"}


class StepsVerified(Message):
    """Verdicts from the run numbered `run` of `role`'s checks, by step id."""

    def __init__(self, role: str, run: int, verdicts: dict[str, Check]) -> None:
        super().__init__()
        self.role, self.run, self.verdicts = role, run, verdicts


class ChecksEnded(Message):
    """That run is over: every step delivered, or `error` says why not."""

    def __init__(self, role: str, run: int, error: str | None) -> None:
        super().__init__()
        self.role, self.run, self.error = role, run, error


@dataclass
class RoleChecks:
    run: int
    running: bool = True
    stop: Callable[[], None] = lambda: None


class TorchChecks:
    """Which checks run for which trace, and what they said: `verdicts[role][step id]`."""

    def __init__(self, verdicts: dict[str, Check] | None = None) -> None:
        self.verdicts: dict[str, dict[str, Check]] = {"original": dict(verdicts or {}), "edited": {}, "trained": {}}
        self.runs: dict[str, RoleChecks] = {}
        self._count = 0

    def start(self, screen, role: str, scenario: Scenario) -> None:
        """Check `scenario`'s trace in a worker of `screen`, which receives the messages above."""
        from stepper.tui.verifier import Verifier

        self.stop(role)  # an older edit's checks are of no use any more
        self._count += 1
        run, verifier = self._count, Verifier()
        self.runs[role] = RoleChecks(run, stop=verifier.stop)

        def body() -> None:
            # the thread only waits on a separate process, where torch is imported and run
            batch: dict[str, Check] = {}
            sent = time.monotonic()

            def deliver(step_id: str, check: Check) -> None:
                nonlocal sent
                batch[step_id] = check
                if time.monotonic() - sent >= BATCH_SECONDS:
                    screen.post_message(StepsVerified(role, run, dict(batch)))
                    batch.clear()
                    sent = time.monotonic()

            error = None
            try:
                verifier.run(scenario, deliver)
            except Exception as exc:
                error = None if verifier.stopped else str(exc)
            if batch:
                screen.post_message(StepsVerified(role, run, batch))
            screen.post_message(ChecksEnded(role, run, error))

        screen.run_worker(body, thread=True, exclusive=True, group=f"checks {role}", exit_on_error=False)

    def stop(self, role: str) -> None:
        if (checks := self.runs.pop(role, None)) is not None:
            checks.stop()
        self.verdicts[role].clear()  # in place: the pipeline list reads this very dict

    def stop_all(self) -> None:
        for checks in self.runs.values():
            checks.stop()

    def take(self, event: StepsVerified) -> bool:
        """Keep the verdicts of a current run; False for a stopped run's late ones."""
        checks = self.runs.get(event.role)
        if checks is None or checks.run != event.run:
            return False
        self.verdicts[event.role].update(event.verdicts)
        return True

    def end(self, event: ChecksEnded) -> bool:
        checks = self.runs.get(event.role)
        if checks is None or checks.run != event.run:
            return False
        checks.running = False
        return True


def status(steps: list[Step], verdicts: dict[str, Check], checks: RoleChecks | None,
           short: bool) -> tuple[str, str]:
    """The top bar's verdict and its style. `short`: below 100 columns, or beside a mode."""
    total = len(steps)
    got = [verdicts[s.id] for s in steps if s.id in verdicts]
    done, bad = len(got), sum(1 for c in got if not c.ok)
    idle = sum(1 for c in got if not c.compared)
    if done == total and not bad:
        # a step with nothing to compare is not counted as agreeing
        if short:
            counted = f"{total - idle}/{total - idle} agree with torch"
        elif idle:
            counted = f"{total - idle}/{total - idle} checked steps agree with torch"
        else:
            counted = f"all {total} steps agree with torch"
        return f"✓ {counted}", "$text-success"
    if checks is not None and checks.running:
        return ("checking…" if short else "checking against torch…"), "$text-muted"
    if bad:
        return (f"✗ {bad}/{total} disagree" if short else f"✗ {bad} of {total} steps disagree with torch",
                "bold $text-error")
    if checks is not None:
        return f"✗ verification stopped ({done}/{total} checked)", "bold $text-error"
    return "", "$text-muted"  # no check asked for (or none started yet): nothing to say
