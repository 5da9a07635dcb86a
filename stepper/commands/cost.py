"""`stepper cost FILE [--sweep T=…] [--sweep d_model=…]`: FLOPs and memory from the shapes, nothing run."""

from __future__ import annotations

import sys

from stepper.commands import EXIT_INVALID
from stepper.commands.output import deliver
from stepper.present.cost_table import (
    crossover_words,
    flops_table,
    memory_table,
    shape_words,
    sweep_words,
    text_table,
)
from stepper.scenario import load_scenario
from stepper.scenario.budget import Budget, budget

SWEEP_KEYS = ("T", "d_model")


class SweepError(ValueError):
    pass


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """`T=16,64,256` → ("T", [16, 64, 256]); SweepError says what is wrong."""
    key, eq, values = text.partition("=")
    if not eq or key not in SWEEP_KEYS:
        raise SweepError(f"--sweep {text!r}: use T=16,64,… or d_model=32,64,…")
    try:
        numbers = [int(v) for v in values.split(",")]
    except ValueError:
        raise SweepError(f"--sweep {text!r}: the values must be whole numbers, separated by commas") from None
    if not numbers or min(numbers) < 1:
        raise SweepError(f"--sweep {text!r}: every value must be 1 or more")
    return key, numbers


def _table(rows: list[tuple[str, ...]], md: bool) -> str:
    if md:
        head, *body = rows
        align = "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(head))) + "|"
        return "\n".join(["| " + " | ".join(head) + " |", align, *("| " + " | ".join(r) + " |" for r in body)])
    return text_table(rows)


def budget_text(b: Budget, heading: str, md: bool) -> str:
    title = f"## {heading}" if md else heading
    return "\n\n".join([title, shape_words(b) + ".", _table(flops_table(b), md), _table(memory_table(b), md),
                        crossover_words(b)])


def report(path: str, sweeps: list[tuple[str, list[int]]], md: bool) -> str:
    scenario = load_scenario(path, force=True)  # priced from its shapes: a model too big to step through is fine
    name = scenario.title or scenario.name
    top = f"# Cost of {name}" if md else f"Cost of {name}"
    parts = [top, "FLOPs of one example (a matmul [m, k]·[k, n] is 2·m·k·n; docs/cost.md), bytes at 8 per "
                  "float64 number.", budget_text(budget(scenario), "This scenario", md)]
    if sweeps and scenario.model.kind == "mlp":
        raise SweepError("--sweep: an mlp has no sequence length or d_model to sweep — give a transformer scenario")
    for key, values in sweeps:
        if key == "d_model":
            bad = [v for v in values if v % scenario.model.n_heads]
            if bad:
                raise SweepError(f"--sweep d_model: {bad[0]} does not split into {scenario.model.n_heads} heads")
            if scenario.model.positional == "concat" and min(values) < 2:
                raise SweepError(f"--sweep d_model: {min(values)} leaves no column for the token rows beside "
                                 "the concatenated positions (`positional: concat`) — sweep from 2")
        budgets = [budget(scenario, **{"t" if key == "T" else "d_model": v}) for v in values]
        parts += [budget_text(b, f"{key} = {v}", md) for b, v in zip(budgets, values, strict=True)]
        parts.append(("**Sweep.** " if md else "Sweep: ") + sweep_words(budgets, key))
    return "\n\n".join(parts) + "\n"


def run_cost(path: str, sweeps: list[str], *, fmt: str = "text", output: str | None = None,
             force: bool = False) -> int:
    try:
        text = report(path, [parse_sweep(s) for s in sweeps], fmt == "md")
    except SweepError as exc:
        print(f"stepper: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return deliver(text, output, force)
