"""One generated token as one decision: temperature, filter, softmax and the draw in a single table.

They are four steps in the trace but one choice for the reader, so they share a table (token, z,
z', kept?, p) instead of four near-identical vectors; a step left out by a filter drops its columns.
"""

from __future__ import annotations

import re

import numpy as np

from stepper.export.md_steps import Findings, checks_line, lesson_line, prose
from stepper.export.md_tables import code, label, text, token
from stepper.present.captions import shown_bindings
from stepper.present.numbers import table_number
from stepper.present.verdicts import ok_mark
from stepper.roundoff import ranked
from stepper.trace import Step, Trace

TOP = 10  # a distribution over a big vocabulary keeps its most likely tokens
PICK = ("temperature", "filter", "softmax", "sample")
KEPT_NAMED = 12  # the filter's survivors named in the text; the table has the likeliest anyway


def sequence(trace: Trace) -> tuple[list[str], int]:
    """(prompt + generated tokens, prompt length), read off the trace's last generation step."""
    final = next((s for s in trace.steps if s.id == "gen.text"), None)
    draws = sum(1 for s in trace.steps if s.phase == "generate" and s.part == "sample")
    seq = list(final.outputs["ids"].cols or []) if final is not None else []
    return seq, max(len(seq) - draws, 0)


def tokens(seq: list[str], bold_from: int | None = None) -> str:
    """Tokens as code spans; from `bold_from` on (the generated ones) in bold."""
    return " ".join(f"**{token(t)}**" if bold_from is not None and i >= bold_from else token(t)
                    for i, t in enumerate(seq))


def as_text(part: list[str], *, chars: bool) -> str:
    return f"“{text(''.join(part).replace(chr(10), '⏎'))}”" if chars else tokens(part)


def is_chars(seq: list[str]) -> bool:
    """Every token but the special ones (<pad>, <bos>) is one character: a char tokenizer's text,
    which reads better joined into words than as a row of one-letter code spans."""
    special = re.compile(r"<[^<>]+>")
    return any(len(t) == 1 for t in seq) and all(len(t) == 1 or special.fullmatch(t) for t in seq)


def so_far(seq: list[str], prompt_len: int) -> str:
    """The text with the generated part marked off from the prompt."""
    if is_chars(seq):
        return f"{as_text(seq[:prompt_len], chars=True)} + {as_text(seq[prompt_len:], chars=True)}"
    return tokens(seq, prompt_len)


def _heading(group: list[tuple[int, Step]], k: int | None) -> str:
    nums = [n for n, _ in group]
    where = f"Step {nums[0]}" if len(nums) == 1 else \
        f"Steps {nums[0]}–{nums[-1]}" if nums == list(range(nums[0], nums[-1] + 1)) else \
        "Steps " + ", ".join(map(str, nums))
    return f"#### {where} · Token {k}: from logits to the next token"


def pick_block(group: list[tuple[int, Step]], trace: Trace, precision: int, quiz: dict[str, str],
               explained: set[str], found: Findings) -> str:
    steps = {s.part: s for _, s in group}
    k = group[0][1].token
    parts = [_heading(group, k), " · ".join(code(s.id) for _, s in group)]
    parts.append("\n".join(f"{i}. {_how(kind, steps[kind])}" for i, kind in enumerate(PICK, 1) if kind in steps))
    parts.append(_distribution(steps, precision))
    if "sample" in steps:
        parts.append(_draw(steps["sample"], precision))
        seq, prompt_len = sequence(trace)
        if seq and k is not None:
            parts.append(f"**Text so far:** {so_far(seq[:prompt_len + k], prompt_len)}")
    parts += [quiz[s.id] for _, s in group if s.id in quiz]
    new = [kind for kind in PICK if kind in steps and kind not in explained]
    if new:
        explained.update(new)
        parts.append(" ".join(prose(steps[kind].formula.meaning) for kind in new))
    lessons = dict.fromkeys(s.lesson for _, s in group if s.lesson)  # one pattern may cover all four
    parts += [lesson_line(lesson, trace, group[0][1], found.whatif) for lesson in lessons]
    parts.append(checks_line([s for _, s in group], found))
    return "\n\n".join(parts)


def _how(kind: str, step: Step) -> str:
    b = shown_bindings(step)
    if kind == "temperature":
        return f"**Temperature:** {code(step.formula.plain)}, with τ = {text(b.get('τ', '?'))}."
    if kind == "filter":
        out = step.outputs["z_kept"]
        kept = [t for t, ok in zip(out.cols or [], np.isfinite(out.value), strict=False) if ok]
        named = ", ".join(token(t) for t in kept[:KEPT_NAMED]) or "nothing"
        if len(kept) > KEPT_NAMED:
            named += f" … ({len(kept)} tokens in all)"
        return (f"**Filter:** top-k = {text(b.get('top_k', '?'))}, top-p = {text(b.get('top_p', '?'))}; kept: "
                f"{named}. "
                "Everything else gets −∞.")
    if kind == "softmax":
        return f"**Softmax:** {code(step.formula.plain)} over the tokens that are left."
    return f"**Sample:** {code(step.formula.plain)}."


def _distribution(steps: dict[str, Step], precision: int) -> str:
    """token | z | z' | kept? | p, most likely first; columns only for the steps present."""
    cols: list[tuple[str, np.ndarray, str]] = []  # (header, values, how to print)
    if "temperature" in steps:
        cols += [("z", steps["temperature"].inputs["z"].value, "num"),
                 ("z'", steps["temperature"].outputs["z'"].value, "num")]
    elif "filter" in steps:
        cols.append(("z'", steps["filter"].inputs["z'"].value, "num"))
    if "filter" in steps:
        cols.append(("kept?", np.isfinite(steps["filter"].outputs["z_kept"].value), "mark"))
    p_step = steps.get("softmax") or steps.get("sample")
    if p_step is not None:
        p = p_step.outputs["p"] if "p" in p_step.outputs else p_step.inputs["p"]
        cols.append(("p", p.value, "num"))
    any_step = next(iter(steps.values()))
    vocab = next(iter(any_step.inputs.values())).cols or []
    last = np.asarray(cols[-1][1], dtype=np.float64)
    ranks = ranked(last)  # ties up to round-off in vocabulary order; what cannot rank (−∞) follows
    order = np.array(ranks + sorted(set(range(last.size)) - set(ranks)), dtype=int)
    drawn = int(steps["sample"].outputs["next"].value) if "sample" in steps else None
    lines = ["| token | " + " | ".join(h for h, _, _ in cols) + " |",
             "|:---|" + "|".join(":---:" if how == "mark" else "---:" for _, _, how in cols) + "|"]
    for v in order[:TOP]:
        name = label(vocab[v]) if v < len(vocab) else str(v)
        name = f"**{name}** ← drawn" if v == drawn else name
        cells = [ok_mark(vals[v]) if how == "mark" else table_number(vals[v], precision) for _, vals, how in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if len(order) <= TOP:
        return "\n".join(lines)
    rest = order[TOP:]
    lines.append(f"| … {len(rest)} more | " + " | ".join("⋯" for _ in cols) + " |")
    header, values, _ = cols[-1]
    share = f"; the other {len(rest)} share p = {table_number(float(np.sum(values[rest])), precision)}" if header == "p" else ""
    return "\n".join(lines) + (f"\n\n*Showing the {TOP} likeliest of {len(order)} tokens{share}. "
                                "The JSON export has every entry.*")


def _draw(step: Step, precision: int) -> str:
    b, p = step.bindings, np.asarray(step.inputs["p"].value, dtype=np.float64)
    tok = int(step.outputs["next"].value)
    vocab = step.inputs["p"].cols or [str(i) for i in range(p.size)]
    chosen = token(b.get("token", vocab[tok]))
    if b.get("greedy") == "true":
        return f"**Greedy:** no draw; the most likely token is taken: {chosen} (p = {table_number(p[tok], precision)})."
    below = float(np.sum(p[:tok]))
    return (f"**Draw:** r = {text(b.get('r', '?'))}. Adding up p in vocabulary order, the running total is "
            f"{table_number(below, precision)} just before {chosen} and {table_number(below + p[tok], precision)} with it, so r "
            f"lands in {chosen}'s share: the next token is **{chosen}** (p = {table_number(p[tok], precision)}).")
