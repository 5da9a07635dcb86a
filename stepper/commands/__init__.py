"""What the CLI's subcommands do, kept apart from argument parsing."""

from __future__ import annotations

# the exit codes README.md lists: 0 all verified · 1 a value disagrees · 2 the scenario is invalid · 3 a file not written
EXIT_OK, EXIT_MISMATCH, EXIT_INVALID, EXIT_IO = 0, 1, 2, 3


def print_warnings(trace) -> None:
    """The scenario's warnings found while its trace was built (`Trace.warnings`), on stderr."""
    import sys

    for warning in trace.warnings:
        print(warning, file=sys.stderr)
