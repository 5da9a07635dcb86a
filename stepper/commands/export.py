"""`stepper export`: the whole trace as markdown or JSON, or the model it ends with as a scenario (YAML)."""

from __future__ import annotations

import sys
from argparse import Namespace

from stepper.commands import EXIT_MISMATCH, print_warnings
from stepper.commands.output import deliver
from stepper.engine import build_trace
from stepper.scenario import load_scenario


def export_file(args: Namespace, generation: dict | None = None) -> int:
    scenario = load_scenario(args.file, force=args.force, generation=generation)  # ScenarioError → exit 2 in the CLI
    if args.format == "yaml":  # the weights themselves: verdicts would change nothing in the file
        from stepper.export.yaml_scenario import NotFinite, render_yaml

        trace = build_trace(scenario)
        print_warnings(trace)
        try:
            return _write(args, render_yaml(scenario, trace))
        except NotFinite as exc:
            print(f"stepper: error: {exc}", file=sys.stderr)
            return EXIT_MISMATCH
    if args.no_verify:
        trace, verdicts = build_trace(scenario), None
    else:
        from stepper.verify.entry import checked

        trace, verdicts = checked(scenario)
    print_warnings(trace)
    if args.format == "json":
        from stepper.export.json_trace import render_json

        text = render_json(trace, verdicts)
    else:
        from stepper.export.markdown import render_markdown

        text = render_markdown(trace, verdicts=verdicts, precision=args.precision, only=args.only, steps=args.steps)
    return _write(args, text)


def _write(args: Namespace, text: str) -> int:
    return deliver(text, args.output, args.force)
