"""Scenario files: reading, checking and typing them."""

from stepper.scenario.errors import ScenarioError
from stepper.scenario.generation import with_generation
from stepper.scenario.load import load_scenario, parse_scenario
from stepper.scenario.types import PAD, GenerateConfig, ModelConfig, OptimConfig, Scenario, TaskConfig

__all__ = ["PAD", "GenerateConfig", "ModelConfig", "OptimConfig", "Scenario", "ScenarioError", "TaskConfig",
           "load_scenario", "parse_scenario", "with_generation"]
