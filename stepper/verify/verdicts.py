"""What verification finds: a Check per step and one for the loss and parameter gradients.

Numpy-free and torch-free, so the app, the export and the present layer can read verdicts without
loading the reference. Verification returns these beside the Trace; it never writes into the Trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

NOTHING_TO_COMPARE = "nothing to compare"
# what checks a step whose keys torch has no part in: `fwd.tokenize`'s merges (verify/reference_bpe.py)
RECOUNT = "a plain-Python recount"


@dataclass(frozen=True)
class Check:
    """The verdict of one step against the independent reference."""

    reference: str
    max_abs_err: float
    tolerance: float
    ok: bool
    worst: str = ""  # which output/entry was furthest off, or NOTHING_TO_COMPARE
    # 1, or the size of the entry the verdict rests on (its |reference value|, when over 1 and the
    # error needed it): the allowance is then tolerance × scale, since float64 rounds large numbers
    # in larger steps (see compare.compare_values)
    scale: float = 1.0

    @property
    def compared(self) -> bool:
        """False for a step with no output the reference knows (nothing was compared)."""
        return self.worst != NOTHING_TO_COMPARE


class Verdicts(Mapping[str, Check]):
    """Step id → its Check, in the trace's step order, and `totals`: the Check of the loss and every
    parameter gradient (a gradient no step shows is verified only there); `training`: the Checks of a
    training run, update by update. Read-only."""

    def __init__(self, checks: Mapping[str, Check], totals: Check, training: tuple[Check, ...] = ()) -> None:
        self._checks = MappingProxyType(dict(checks))
        self.totals = totals
        # a scenario that trains: one Check per figure of the whole run, every update compared
        # (batch losses, learning rates, gradient norms, validation, the parameters after each update…)
        self.training = tuple(training)

    def __getitem__(self, step_id: str) -> Check:
        return self._checks[step_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    def __repr__(self) -> str:
        return f"Verdicts({len(self)} steps, totals ok={self.totals.ok})"
