"""Regenerate docs/examples/<name>-trace.md for every scenarios/*.yaml (or, with --check, list stale ones).

    python scripts/gen_examples.py          # rewrite the examples
    python scripts/gen_examples.py --check  # exit 1 if any example is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stepper.export.examples import stale_examples, write_examples

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale examples")
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "examples")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_examples(args.scenarios, args.out)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    for path in write_examples(args.scenarios, args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
