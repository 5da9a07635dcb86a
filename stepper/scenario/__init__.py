"""Scenario files: reading, checking and typing them.

The names below load on first use (PEP 562), so importing a light piece such as
`stepper.scenario.types` does not also import the YAML reader and every check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    "ScenarioError": "errors", "with_generation": "generation", "load_scenario": "load",
    "parse_scenario": "load", "PAD": "types", "GenerateConfig": "types", "ModelConfig": "types",
    "OptimConfig": "types", "Scenario": "types", "TaskConfig": "types", "DataConfig": "types", "Example": "types",
    "ScheduleConfig": "types",
}

__all__ = ["PAD", "DataConfig", "Example", "GenerateConfig", "ScheduleConfig", "ModelConfig", "OptimConfig", "Scenario", "ScenarioError", "TaskConfig",
           "load_scenario", "parse_scenario", "with_generation"]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"stepper.scenario.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stepper.scenario' has no attribute {name!r}")


if TYPE_CHECKING:
    from stepper.scenario.errors import ScenarioError
    from stepper.scenario.generation import with_generation
    from stepper.scenario.load import load_scenario, parse_scenario
    from stepper.scenario.types import (
        PAD,
        DataConfig,
        Example,
        GenerateConfig,
        ModelConfig,
        OptimConfig,
        Scenario,
        ScheduleConfig,
        TaskConfig,
    )
