"""Independent verification: a PyTorch autograd reference, the step checker and a finite-difference check.

`checked(scenario, tol)` is the one entry point: (the engine's Trace, its Verdicts).

`fd` is numpy-only; the torch-backed parts are imported lazily so that importing
`stepper.verify.fd` never pulls in torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepper.verify.compare import verify_trace
    from stepper.verify.entry import checked
    from stepper.verify.fd import FDReport, finite_difference_check
    from stepper.verify.reference import Reference, torch_reference
    from stepper.verify.scenario_check import verify_scenario

_WHERE = {
    "checked": "stepper.verify.entry",
    "Reference": "stepper.verify.reference",
    "torch_reference": "stepper.verify.reference",
    "verify_trace": "stepper.verify.compare",
    "verify_scenario": "stepper.verify.scenario_check",
    "FDReport": "stepper.verify.fd",
    "finite_difference_check": "stepper.verify.fd",
}

__all__ = ["FDReport", "checked", "Reference", "finite_difference_check", "torch_reference", "verify_scenario",
           "verify_trace"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'stepper.verify' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
