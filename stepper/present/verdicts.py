"""A step's verdict against the reference, in marks and words; and training's divergence, said."""

from __future__ import annotations

import re
from collections.abc import Callable

from stepper.present.numbers import error_bound, lone_number
from stepper.trace import Divergence, Step
from stepper.verify.verdicts import RECOUNT, Check

AGREES, DISAGREES, UNCHECKED = "✓", "✗", "·"  # the last: not checked, or nothing with a reference value


def mark(check: Check | None) -> str:
    """`✓`, `✗` or `·` (not checked yet, or nothing in it has a reference value)."""
    if check is None or not check.compared:
        return UNCHECKED
    return AGREES if check.ok else DISAGREES


def ok_mark(ok: bool) -> str:
    """`✓` or `✗`, for a verdict that was reached."""
    return AGREES if ok else DISAGREES


def reference_name(phase: str | None, check: Check) -> str:
    """What a step of `phase` was checked against, as a learner should read it: a forward value
    comes from torch's own functions (autograd only enters for gradients), an update from torch.optim; a
    tokenizer's merges from a recount that is not torch's at all."""
    if check.reference == RECOUNT:
        return RECOUNT
    return {"forward": "torch", "generate": "torch", "update": "torch.optim"}.get(phase or "", check.reference)


def tolerance_text(check: Check, number: Callable[[float], str]) -> str:
    """'1e-10', or '1e-10 × 9.79e+04, the size of the numbers' when the allowance was scaled."""
    if check.scale == 1.0:
        return number(check.tolerance)
    return f"{number(check.tolerance)} × {number(check.scale)}, the size of the numbers"


def check_line(step: Step, c: Check | None) -> str:
    """The app's line under a step: its verdict `c` (None: not checked yet), the error (a bound when it
    passed) and the tolerance."""
    if c is None:
        return "· not checked yet (the PyTorch reference is being computed)"
    if not c.compared:
        return "· nothing to check: no output here has an independent reference value"
    ours = f"max |ours − {reference_name(step.phase, c)}|"
    if c.ok:  # a pass is round-off, which differs between machines: a bound, as the export writes it
        return f"✓ {ours} {error_bound(c.max_abs_err)} (tolerance {tolerance_text(c, lone_number)})"
    # the place to look when it fails, written without spaces ("dQ[0,3]") so that a wrapped line
    # never splits the index
    where = re.sub(r" \[([\d, ]+)\]$", lambda m: "[" + m.group(1).replace(" ", "") + "]", c.worst)
    return f"✗ OFF: {ours} = {lone_number(c.max_abs_err)} (tolerance {tolerance_text(c, lone_number)}) · worst at {where}"


def divergence_words(d: Divergence) -> str:
    """Where training first overflowed, and what to try instead. Updates count from 0, as everywhere:
    update t reads its batch with the weights after update t − 1."""
    when = "the scenario's own weights" if d.update == 0 else f"update {d.update}"
    weights = "the scenario's own weights" if d.update == 0 else f"the weights after update {d.update - 1}"
    if d.example is not None:
        where = f"example {d.example}" + (f" (line {d.line})" if d.line else "")
        return (f"In update {d.update}, with {weights}, {where} of its batch made the first number that is not "
                f"finite (inf or NaN), at step {d.step_id} ({d.step_title}); training stopped there. "
                f"Try a lower lr than {d.lr:g}, or set clip_grad_norm.")
    if not d.step_id:
        return (f"In update {d.update}, with {weights}, the loss or gradient of its batch is not finite (inf or "
                f"NaN), though no example alone makes one; training stopped there. Try a lower lr than {d.lr:g}, "
                "or set clip_grad_norm.")
    return (f"{when[0].upper()}{when[1:]} led to the first number that is not finite (inf or NaN), made at step {d.step_id} "
            f"({d.step_title}); every loss after it is meaningless. Try a lower lr than {d.lr:g}, "
            "or clip the gradients.")
