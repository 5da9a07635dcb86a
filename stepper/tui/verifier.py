"""Verification against torch in a separate process, fed back to the app step by step.

Importing torch takes seconds and, in-process, holds the GIL through long native
initialisers: the UI would stutter exactly when the learner starts pressing keys, and
quitting would wait for it. A spawned process has its own interpreter and core, and is
simply terminated on quit. This module must stay importable without Textual.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable

from stepper.scenario import Scenario
from stepper.verify.verdicts import Check

# A plain subprocess talking pickle over its pipes: multiprocessing would hand the child
# Textual's captured stderr, which has no usable file descriptor.
CHILD = "from stepper.tui.verifier import child_main; child_main()"


def child_main() -> None:
    out = sys.stdout.buffer

    def send(message) -> None:
        pickle.dump(message, out)
        out.flush()

    try:
        scenario = pickle.load(sys.stdin.buffer)
        from stepper.verify.entry import checked

        _, verdicts = checked(scenario)
        for step_id, check in verdicts.items():  # in the trace's step order
            send((step_id, check))
        send(None)
    except BaseException as exc:  # reported to the app, which shows it in a modal
        send(("error", f"{type(exc).__name__}: {exc}"))


class Verifier:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.stopped = False  # stopped on purpose: the broken pipe that follows is not an error

    def run(self, scenario: Scenario, deliver: Callable[[str, Check], None]) -> None:
        """Blocks (in a worker thread) until every step's check has been delivered."""
        if self.stopped:
            return
        self.process = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            pickle.dump(scenario, self.process.stdin)
            self.process.stdin.close()
            while (message := pickle.load(self.process.stdout)) is not None:
                if message[0] == "error":
                    raise RuntimeError(message[1])
                deliver(*message)
        except (EOFError, BrokenPipeError):
            raise RuntimeError("the verification process stopped before it finished") from None
        finally:
            self.process.stdout.close()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
