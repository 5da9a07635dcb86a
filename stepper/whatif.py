"""What-if edits: change one number or one token, recompute, and see which cells moved.

Pure functions: an edit returns a new Scenario (the original is untouched, so the TUI can
toggle back); `ripple` compares two traces cell by cell.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from stepper.diff import delta
from stepper.roundoff import denoised, scale_of
from stepper.scenario.types import Scenario
from stepper.trace import Trace


def edit_param(sc: Scenario, name: str, index: tuple[int, ...], value: float) -> Scenario:
    if name not in sc.params:
        raise KeyError(f"no parameter `{name}`")
    arr = sc.params[name].copy()
    arr[index] = value
    return dataclasses.replace(sc, params={**sc.params, name: arr})


def edit_token(sc: Scenario, position: int, token: str) -> Scenario:
    if token not in sc.vocab:
        raise ValueError(f"`{token}` is not in the vocab: {', '.join(sc.vocab)}")
    if not 0 <= position < len(sc.tokens):
        raise IndexError(f"position {position} is outside 0..{len(sc.tokens) - 1}")
    tokens = list(sc.tokens)
    tokens[position] = token
    return dataclasses.replace(sc, tokens=tokens)


def changed_cells(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean mask of the entries that differ (beyond round-off, relative to the arrays' scale)
    between two same-shaped arrays."""
    d = denoised(delta(a, b), max(scale_of(a), scale_of(b)))
    return ~np.isfinite(d) | (np.nan_to_num(d, nan=np.inf) != 0)


def ripple(orig: Trace, edited: Trace) -> dict[str, dict[str, np.ndarray]]:
    """Per step id, per output: which cells the edit changed. Steps missing from either are skipped."""
    other = {s.id: s for s in edited.steps}
    out: dict[str, dict[str, np.ndarray]] = {}
    for step in orig.steps:
        twin = other.get(step.id)
        if twin is None:
            continue
        masks = {}
        for name, t in step.outputs.items():
            u = twin.outputs.get(name)
            if u is not None and u.shape == t.shape:
                masks[name] = changed_cells(t.value, u.value)
        out[step.id] = masks
    return out
