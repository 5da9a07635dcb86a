"""Quiz results in the document: a scorecard section, and the question beside the step it was asked on.

The answers come as (Question, Verdict) pairs in the order they were answered, passed to
`render_markdown` (never kept on the Trace). Only the fields both the TUI and `stepper quiz` fill
are read, so either can hand its answers to the export.
"""

from __future__ import annotations

from stepper.export.md_tables import code, text
from stepper.present.verdicts import ok_mark
from stepper.trace import Trace


def results_by_step(answers) -> dict[str, list]:
    """Step id → its (Question, Verdict) pairs; a step can be asked twice in one session."""
    out: dict[str, list] = {}
    for q, v in answers:
        out.setdefault(q.step_id, []).append((q, v))
    return out


def _answer(got: str) -> str:
    return text(got) if got.strip() else "*(no answer)*"


def quiz_note(results: list) -> str:
    """The block that sits inside a quizzed step: what was asked, what was answered, and the verdict."""
    lines = []
    for q, v in results:
        if lines:
            lines.append(">")
        mark = f"{ok_mark(True)} right" if v.ok else f"{ok_mark(False)} — the answer is {text(v.expected)}"
        lines.append(f"> **Quiz.** {text(q.prompt)}")
        lines.append(">")
        lines.append(f"> You answered {_answer(v.got)}: {mark}.")
        if v.explanation:
            lines.append(f"> *Why:* {text(v.explanation)}")
    return "\n".join(lines)


def score_line(results: list) -> str:
    right, n = sum(v.ok for _, v in results), len(results)
    return f"**Score: {right} of {n} right ({100 * right / n:.0f}%).**" if n else "No question was answered."


def quiz_section(trace: Trace, answers=(), elsewhere=()) -> str:
    """The scorecard: one row per question in the order asked (`answers`), numbered like the steps they
    belong to; then `elsewhere`, (Question, Verdict, "on what") answers given on another version of
    these steps (before or after a what-if edit)."""
    results, elsewhere = list(answers), list(elsewhere)
    if not results and not elsewhere:
        return ""
    number = {s.id: i + 1 for i, s in enumerate(trace.steps)}
    lines = ["## Quiz", "",
             "Before each of these steps was revealed, its output was to be predicted. The same question "
             "and verdict also appear inside the step itself.", "", score_line(results)]
    if results:
        lines += ["", *_table(results, number)]
    wrong = [q.step_id for q, v in results if not v.ok]
    if wrong:
        lines += ["", "Worth another look: " + ", ".join(code(s) for s in dict.fromkeys(wrong)) + "."]
    for where in dict.fromkeys(on for _, _, on in elsewhere):
        pairs = [(q, v) for q, v, on in elsewhere if on == where]
        lines += ["", f"### Answered on {text(where)}", "",
                  "These answers were checked against other numbers than this document's tables show.", "",
                  score_line(pairs), "", *_table(pairs, number)]
    return "\n".join(lines)


def _table(results: list, number: dict[str, int]) -> list[str]:
    rows = ["| step | question | your answer | ✓/✗ | right answer | why |", "|---:|:---|:---|:---:|:---|:---|"]
    for q, v in results:
        where = f"{number[q.step_id]} · {code(q.step_id)}" if q.step_id in number else code(q.step_id)
        rows.append(f"| {where} | {text(q.prompt)} | {_answer(v.got)} | {ok_mark(v.ok)} | "
                    f"{text(v.expected)} | {text(v.explanation) if v.explanation else '—'} |")
    return rows
