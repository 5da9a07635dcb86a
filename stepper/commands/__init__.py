"""What the CLI's subcommands do, kept apart from argument parsing."""

from __future__ import annotations


def load(path, *, force: bool = False, generation: dict | None = None):
    """Read a scenario and apply the command line's generation flags (ScenarioError on any problem)."""
    from stepper.scenario import load_scenario

    scenario = load_scenario(path, force=force)
    if generation:
        from stepper.scenario import with_generation

        scenario = with_generation(scenario, **generation)
    return scenario
