"""The command line. Thin: parse arguments, call the layers, map outcomes to exit codes.

`check` and `export` never import Textual; `run` imports the TUI only when it is asked for.
Nothing is imported at the top that `run` can do without before its scenario reader starts
(see `_run`): argparse and pathlib load after the fork.
"""

from __future__ import annotations

import os
import sys

from stepper.bundled import DOCS, scenario_path
from stepper.commands import EXIT_INVALID, EXIT_OK
from stepper.scenario.starter import KINDS as STARTER_KINDS

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (~12 ms) before the fork

if TYPE_CHECKING:
    import argparse


GEN_FLAGS = ("max_new_tokens", "temperature", "top_k", "top_p", "seed", "greedy")


def _generation_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generation (decoder and seq2seq scenarios; overrides the scenario's `generate:`)")
    g.add_argument("--max-new-tokens", type=int, metavar="N", help="tokens to generate after the prompt")
    g.add_argument("--temperature", type=float, metavar="T", help="divide the logits by T (0 = greedy)")
    g.add_argument("--top-k", type=int, metavar="K", help="keep only the K most likely tokens (0 = off)")
    g.add_argument("--top-p", type=float, metavar="P", help="keep the smallest set with probability ≥ P")
    g.add_argument("--seed", type=int, help="seed of the sampling draws")
    g.add_argument("--greedy", action="store_true", default=None, help="always take the most likely token")


def generation_overrides(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k) for k in GEN_FLAGS if getattr(args, k, None) is not None}


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small — use 1 or more")
    return value


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is no port — use a number from 1 to 65535")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    import argparse

    ap = argparse.ArgumentParser(prog="stepper", description="Step through a tiny transformer, every number verified.")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="open the TUI on a scenario")
    run.add_argument("file", nargs="?", help="scenario file, or a bundled scenario's name (default: mini)")
    run.add_argument("--quiz", action="store_true", help="ask before revealing each output")
    run.add_argument("--force", action="store_true", help="try a scenario over the size limits anyway")
    _generation_flags(run)

    check = sub.add_parser("check", help="compute and verify every step against PyTorch autograd")
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario files, or bundled scenarios' names")
    check.add_argument("--fd", action="store_true", help="also check every gradient by finite differences")
    check.add_argument("--tol", type=float, default=1e-10, help="max error allowed per entry, times the entry's size where that is over 1 (default 1e-10)")
    check.add_argument("--quiet", "-q", action="store_true", help="print only the summary line per file")
    check.add_argument("--force", action="store_true", help="try a scenario over the size limits anyway")
    _generation_flags(check)

    export = sub.add_parser("export", help="write the whole trace as markdown or JSON, or the model as a scenario")
    export.add_argument("file", help="scenario file, or a bundled scenario's name (stepper list)")
    export.add_argument("--format", choices=["md", "json", "yaml"], default="md",
                        help="md or json: the trace; yaml: the (trained) model as a new scenario, every weight explicit")
    export.add_argument("-o", "--output", help="output file (default: stdout)")
    export.add_argument("--precision", type=_positive, default=4, help="significant digits in markdown (default 4)")
    export.add_argument("--only", choices=["forward", "backward", "update", "generate"],
                        help="markdown: only one phase")
    export.add_argument("--steps", metavar="PATTERN", help="markdown: only steps whose id matches (fnmatch)")
    export.add_argument("--no-verify", action="store_true", help="skip the PyTorch check (faster)")
    export.add_argument("--force", action="store_true", help="overwrite OUT; try a scenario over the size limits")
    _generation_flags(export)

    quiz = sub.add_parser("quiz", help="predict each step's output before it is shown, in a plain terminal")
    quiz.add_argument("file")
    quiz.add_argument("--steps", metavar="PATTERN", help="only steps whose id matches (fnmatch)")
    quiz.add_argument("--limit", type=int, help="stop after this many questions")
    quiz.add_argument("--export", metavar="OUT.md", help="write the trace with the quiz results as markdown")
    quiz.add_argument("--force", action="store_true", help="overwrite OUT.md; try a scenario over the limits")

    diff = sub.add_parser("diff", help="compare two scenarios step by step (or one, before and after training)")
    diff.add_argument("a")
    diff.add_argument("b", nargs="?", help="the second scenario (not with --trained)")
    diff.add_argument("--trained", action="store_true",
                      help="B is A's traced example with A's trained weights: before vs after training")
    diff.add_argument("--all", action="store_true", help="list every paired step, not only those that differ")
    diff.add_argument("--format", choices=["text", "md"], default="text", help="text (default) or a markdown report")
    diff.add_argument("-o", "--output", help="write to this file instead of stdout")
    diff.add_argument("--precision", type=_positive, default=4, help="markdown: significant digits (default 4)")
    diff.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    diff.add_argument("--tui", action="store_true", help="open A and B side by side in the terminal app")

    cost = sub.add_parser("cost", help="FLOPs and memory of a scenario from its shapes, for training and inference")
    cost.add_argument("file", help="scenario file, or a bundled scenario's name")
    cost.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,…",
                      help="price it again at each value: T=16,64,256,1024 (sequence length) or d_model=32,64,…")
    cost.add_argument("--format", choices=["text", "md"], default="text", help="text (default) or markdown")
    cost.add_argument("-o", "--output", help="write to this file instead of stdout")
    cost.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")

    serve = sub.add_parser("serve", help="serve the app as a web page (textual-serve), on localhost by default")
    serve.add_argument("file", nargs="?", default="mini", help="scenario file or bundled name (default: mini)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--host", default="localhost",
                       help="address to listen on (default localhost; another lets anyone on the network in)")

    sub.add_parser("list", help="the bundled scenarios, each with its title and what it teaches")
    docs = sub.add_parser("docs", help="print a document that ships with stepper (markdown)")
    docs.add_argument("topic", nargs="?", choices=list(DOCS), default="format",
                      help="format: every scenario key (default) · trace-keys: how each number is named · "
                           "python: the Python API · cost: how stepper cost counts FLOPs and memory")

    new = sub.add_parser("new", help="write a commented starter scenario")
    new.add_argument("name")
    new.add_argument("--kind", choices=STARTER_KINDS, default="encoder")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    return ap


def _diff_app(args) -> int:
    from stepper.scenario import load_scenario
    from stepper.scenario.shown import shown_scenario
    from stepper.tui.diff_app import run_diff_app

    if args.trained:
        from stepper.commands.diff import NoTraining, trained_pair

        try:
            a, b = trained_pair(args.a)
        except NoTraining as exc:
            print(f"stepper: error: {exc}", file=sys.stderr)
            return 2
        return run_diff_app(shown_scenario(a), shown_scenario(b))
    return run_diff_app(shown_scenario(load_scenario(args.a)), shown_scenario(load_scenario(args.b)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:
        return _run(argv)
    parser = _parser()
    args = by_name(parser.parse_args(argv))
    if args.command == "diff" and (args.b is None) != args.trained:
        parser.error("diff needs two scenarios A B, or one scenario and --trained")
    if args.command == "diff" and args.tui:  # the terminal is Textual's: nothing printed to wrap
        return _invalid_or(lambda: _diff_app(args))
    from stepper.commands.output import guarded

    return guarded(lambda: _invalid_or(lambda: _command(args)))


def by_name(args: argparse.Namespace) -> argparse.Namespace:
    """Every scenario argument that is no file but a bundled scenario's name, as that scenario's path."""
    for key in ("file", "a", "b"):
        if getattr(args, key, None) is not None:
            setattr(args, key, scenario_path(getattr(args, key)))
    if getattr(args, "files", None) is not None:
        args.files = [scenario_path(f) for f in args.files]
    return args


def _invalid_or(command) -> int:
    """`command()`'s exit code; a scenario error is one line on stderr and EXIT_INVALID."""
    from stepper.scenario import ScenarioError

    try:
        return command()
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130


def _command(args: argparse.Namespace) -> int:
    """Run the subcommand `args` asks for; its exit code."""
    if args.command == "check":
        from stepper.commands.check import check_files

        return check_files(args.files, fd=args.fd, tol=args.tol, quiet=args.quiet, force=args.force,
                           generation=generation_overrides(args))
    if args.command == "export":
        from stepper.commands.export import export_file

        return export_file(args, generation=generation_overrides(args))
    if args.command == "quiz":
        from stepper.commands.quiz import run_quiz

        return run_quiz(args.file, steps=args.steps, limit=args.limit, export=args.export, force=args.force)
    if args.command == "diff":
        from stepper.commands.diff import run_diff

        return run_diff(args.a, args.b, show_all=args.all, fmt=args.format, output=args.output,
                        precision=args.precision, force=args.force, trained=args.trained)
    if args.command == "cost":
        from stepper.commands.cost import run_cost

        return run_cost(args.file, args.sweep, fmt=args.format, output=args.output, force=args.force)
    if args.command == "serve":
        from stepper.commands.serve import serve

        return serve(args.file, host=args.host, port=args.port)
    if args.command == "list":
        from stepper.commands.library import list_scenarios

        return list_scenarios()
    if args.command == "docs":
        from stepper.commands.library import print_document

        return print_document(args.topic)
    if args.command == "new":
        from pathlib import Path

        from stepper.commands.new import write_starter

        path = write_starter(args.name, args.kind, Path.cwd(), force=args.force)
        print(f"wrote {path} — try: stepper check {path}")
    return EXIT_OK


def _run(argv: list[str]) -> int:
    """`stepper run`: the scenario reader is forked first, before even argparse loads.

    The child parses the same arguments for itself. This process parses them meanwhile and is
    the one that reports a mistake in them (or prints --help), as for every other command.
    """
    # the TUI's matrices are tiny: one BLAS thread is plenty, and skipping the thread pool
    # makes numpy's import (on the way to the first frame) about twice as fast
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from stepper.tui.startup import launch

    launch.hold_collector()
    reader = launch.start_reader(lambda: _run_request(argv)) if launch.can_fork() else None
    try:
        path, force, generation, quiz = _run_request(argv)
    except BaseException as exc:  # --help, a usage error, Ctrl+C: the child's answer is not wanted
        if reader is not None:
            reader.close()
        launch.resume_collector()
        if isinstance(exc, KeyboardInterrupt):
            return 130
        raise
    try:
        return launch.launch(path, quiz=quiz, force=force, generation=generation, reader=reader)
    except KeyboardInterrupt:
        return 130


def _run_request(argv: list[str]) -> tuple:
    """(scenario path, force, generation overrides, quiz) from `run`'s arguments."""
    args = _parser().parse_args(argv)
    return scenario_path(args.file or "mini"), args.force, generation_overrides(args), args.quiz
