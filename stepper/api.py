"""stepper in Python: `stepper.trace(FILE)` is a scenario's trace with its verdicts, to look at step
by step in a notebook and to export exactly as `stepper export` does (docs/python.md).

The Trace and the Verdicts are kept as the engine and the check made them: this wraps them, it
changes neither. Nothing here imports Textual; rich loads only when a step is shown.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from stepper.bundled import scenario_path
from stepper.scenario.types import Scenario
from stepper.step_view import StepView
from stepper.trace import Trace
from stepper.verify.verdicts import Verdicts

__all__ = ["trace", "VerifiedTrace", "StepView"]


def trace(source: str | os.PathLike, *, tol: float = 1e-10, verify: bool = True,
          force: bool = False) -> VerifiedTrace:
    """The scenario `source` (a file, or a bundled scenario's name: "mini"), computed by the engine
    and, unless `verify=False`, checked against PyTorch as `stepper check` does (`tol`: as --tol).
    A scenario that cannot be used raises ScenarioError, whose message is `FILE:LINE:COL: error: …`."""
    from stepper.scenario import load_scenario

    scenario = load_scenario(scenario_path(source), force=force)
    if not verify:
        from stepper.engine import build_trace

        return VerifiedTrace(scenario, build_trace(scenario), None)
    from stepper.verify.entry import checked

    return VerifiedTrace(scenario, *checked(scenario, tol))


@dataclass(frozen=True)
class VerifiedTrace:
    """A scenario's Trace and its Verdicts (None when it was not verified)."""

    scenario: Scenario
    trace: Trace
    verdicts: Verdicts | None

    @property
    def ids(self) -> list[str]:
        """Every step's id, in order: what `step` takes."""
        return [s.id for s in self.trace.steps]

    @property
    def ok(self) -> bool | None:
        """Whether every step, the loss, every gradient and every training update agree with torch
        (`stepper check`'s exit 0); None when it was not verified."""
        v = self.verdicts
        if v is None:
            return None
        return all(c.ok for c in v.values()) and v.totals.ok and all(c.ok for c in v.training)

    def step(self, key: str | int) -> StepView:
        """The step with this id (`"fwd.L0.attn.softmax"`), or at this position in the trace."""
        steps = self.trace.steps
        if isinstance(key, int):
            found = steps[key]
        else:
            found = next((s for s in steps if s.id == key), None)
            if found is None:
                near = difflib.get_close_matches(key, self.ids, n=3, cutoff=0.5)
                hint = f" — did you mean {', '.join(near)}?" if near else " — `.ids` lists them"
                raise KeyError(f"no step {key!r} in {self.trace.scenario}{hint}")
        return StepView(self.trace, found, None if self.verdicts is None else self.verdicts[found.id])

    def to_markdown(self, *, precision: int = 4, only: str | None = None, steps: str | None = None) -> str:
        """The worked example, as `stepper export FILE --format md` writes it (with its options)."""
        from stepper.export.markdown import render_markdown

        return render_markdown(self.trace, verdicts=self.verdicts, precision=precision, only=only, steps=steps)

    def to_json(self) -> str:
        """The full trace, as `stepper export FILE --format json` writes it."""
        from stepper.export.json_trace import render_json

        return render_json(self.trace, self.verdicts)

    def __repr__(self) -> str:
        verdict = {None: "not verified", True: "all verified", False: "a value DISAGREES"}[self.ok]
        return (f"<VerifiedTrace {self.trace.scenario}: {len(self.trace.steps)} steps, {verdict}, "
                f"loss {self.trace.loss:.6g}>")
