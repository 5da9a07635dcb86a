"""Scenario files: reading, checking and typing them."""

from stepper.scenario.errors import ScenarioError
from stepper.scenario.load import load_scenario, parse_scenario
from stepper.scenario.types import PAD, ModelConfig, Scenario, TaskConfig

__all__ = ["PAD", "ModelConfig", "Scenario", "ScenarioError", "TaskConfig", "load_scenario", "parse_scenario"]
