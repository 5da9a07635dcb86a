"""`stepper quiz`: the quiz in a plain terminal — a question per step, an answer per line."""

from __future__ import annotations

import fnmatch
import sys

import numpy as np

from stepper.commands import EXIT_IO, EXIT_OK, print_warnings
from stepper.engine import build_trace
from stepper.present.verdicts import ok_mark
from stepper.quiz import Score, Verdict, judge, question_for
from stepper.scenario import load_scenario


def text_matrix(name: str, t, limit: int = 64) -> str:
    """A small input as labelled rows of 4-significant-digit numbers; a big one as its shape only."""
    v = np.atleast_2d(np.asarray(t.value, dtype=np.float64))
    shape = "×".join(str(n) for n in t.shape) or "scalar"
    if v.size > limit or v.ndim > 2:
        return f"  {name} [{shape}] (too big to print: open it in `stepper run`)"
    if np.ndim(t.value) <= 1:  # a vector prints as one row, labelled by whatever labels it has
        cols, rows = (t.cols or t.rows or [str(j) for j in range(v.shape[1])]), [""]
    else:
        cols = t.cols or [str(j) for j in range(v.shape[1])]
        rows = t.rows or [""] * v.shape[0]
    texts = [["−∞" if x == -np.inf else f"{x:.4g}" for x in row] for row in v]
    # one column wider than its widest entry, so that two numbers never run together
    width = max(9, *(len(c) + 1 for c in cols), *(len(x) + 1 for row in texts for x in row))
    lines = [f"  {name} [{shape}]", "    " + " " * max(len(r) for r in rows) + "".join(c.rjust(width) for c in cols)]
    pad = max(len(r) for r in rows)
    for r, row in zip(rows, texts, strict=True):
        lines.append(f"    {r.ljust(pad)}{''.join(x.rjust(width) for x in row)}")
    return "\n".join(lines)


def _lenient(stream):
    """Standard input that reads bytes which are not UTF-8 as �, which no answer matches, instead of failing."""
    try:
        stream.reconfigure(errors="replace")
    except (AttributeError, ValueError):  # not a reconfigurable text stream (a test's), or already reading
        pass
    return stream


def run_quiz(path: str, *, steps: str | None, limit: int | None, export: str | None, force: bool,
             stdin=None, out=None) -> int:
    stdin, out = stdin or _lenient(sys.stdin), out or sys.stdout
    scenario = load_scenario(path, force=force)
    trace = build_trace(scenario)
    print_warnings(trace)
    score = Score()
    interactive = stdin.isatty()
    print(f"Quiz on {scenario.title or scenario.name}: predict each step's output before it is shown.\n"
          "Answer on one line; an empty line (or `skip`) shows the answer without scoring; `q` (or Ctrl-D) "
          "stops.", file=out)
    asked = 0
    for i, step in enumerate(trace.steps):
        if steps and not fnmatch.fnmatchcase(step.id, steps):
            continue
        if limit is not None and asked >= limit:
            break
        q = question_for(trace, i)
        print(f"\n[{step.id}] {step.title}\n  {step.formula.plain}", file=out)
        for name, t in step.inputs.items():
            print(text_matrix(name, t), file=out)
        print(f"  Q: {q.prompt}", file=out)
        if q.choices:
            print(f"     (one of: {', '.join(q.choices)})", file=out)
        outcome = _reply(q, stdin, out, interactive)
        if outcome is None:  # `q`, or the end of the answers
            break
        asked += 1  # a skipped or unreadable question counts toward --limit too
        if isinstance(outcome, str):  # piped, and no answer to this question: passed over, unscored
            print(f"  · not marked ({outcome.removesuffix(': try again')}) — answer: {q.expected}", file=out)
        elif not outcome.scored:  # like the TUI's "answer later": seen, not scored
            print(f"  · skipped — answer: {q.expected}", file=out)
        else:
            score.add(q, outcome)
            print(f"  {ok_mark(outcome.ok)} you said {outcome.got!r}; answer: {outcome.expected}"
                  + (f" — {outcome.explanation}" if outcome.explanation else ""), file=out)
    print(f"\nScore: {score.line()}", file=out)
    if export:
        from stepper.export.files import ExistsError, write_atomic
        from stepper.export.markdown import render_markdown

        try:
            write_atomic(export, render_markdown(trace, answers=score.results), force=force)
        except (ExistsError, OSError) as exc:
            print(f"stepper: error: {exc}", file=sys.stderr)
            return EXIT_IO
        print(f"wrote {export}", file=out)
    return EXIT_OK


def _reply(q, stdin, out, interactive: bool) -> Verdict | str | None:
    """The reply to `q`, judged as the TUI judges it; None to stop. A person at the keyboard is asked
    again until the reply can be marked; piped answers are one per question, come what may."""
    while True:
        if interactive:
            print("  > ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line or _quits(line, q):
            return None
        outcome = judge(q, line)
        if not (interactive and isinstance(outcome, str)):
            return outcome
        print(f"  ({outcome})", file=out)


def _quits(line: str, q) -> bool:
    """`q` or `quit` ends the quiz, as `q` does in the app; unless it is one of this question's answers
    (a character model's vocabulary may have a token `q`)."""
    word = line.strip().casefold()
    return word in ("q", "quit") and word not in {c.casefold() for c in (q.choices or ())}
