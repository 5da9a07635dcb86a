"""How big a scenario's trace is to build: decides whether it is built before the first frame.

Imports nothing: the launcher's forked child reads this without loading Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepper.scenario import Scenario

# Below this many multiply-adds the trace is built before the app starts (a few ms), so the
# first frame shows the first step; above it the build runs in a worker behind a loading screen.
SYNC_BUILD_LIMIT = 20_000_000


def build_cost(scenario: Scenario) -> int:
    m = scenario.model
    t, d, f, v = max(len(scenario.tokens), 1), m.d_model, m.d_ff, max(len(scenario.vocab), 1)
    per_layer = t * d * d * 4 + 2 * t * t * d + 2 * t * d * f
    return 3 * (m.n_layers * per_layer + t * d * v)  # forward plus roughly twice that backward
