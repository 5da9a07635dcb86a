"""`stepper export`: the whole trace as markdown or JSON, to stdout or a file."""

from __future__ import annotations

import sys
from argparse import Namespace

from stepper.commands import EXIT_IO, EXIT_OK, load, print_warnings
from stepper.commands.checked import checked_trace
from stepper.engine import build_trace
from stepper.export.files import ExistsError, write_atomic


def export_file(args: Namespace, generation: dict | None = None) -> int:
    from stepper.commands.memory import keep_freed_memory

    keep_freed_memory()  # as `check` does: the same engine and reference run here
    scenario = load(args.file, force=args.force, generation=generation)  # ScenarioError → exit 2 in the CLI
    trace = build_trace(scenario) if args.no_verify else checked_trace(scenario)[0]
    print_warnings(trace)
    if args.format == "json":
        from stepper.export.json_trace import render_json

        text = render_json(trace)
    else:
        from stepper.export.markdown import render_markdown

        text = render_markdown(trace, precision=args.precision, only=args.only, steps=args.steps)
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        path = write_atomic(args.output, text, force=args.force)
    except (ExistsError, OSError) as exc:
        print(f"stepper: error: {exc}", file=sys.stderr)
        return EXIT_IO
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
