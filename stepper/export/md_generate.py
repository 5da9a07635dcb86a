"""The generation phase: the prompt fills the cache, then one token at a time is decoded and drawn.

Prefill and each decode show the cache growing (K/V shapes per layer) and where the newest row looks
(its attention over the cache); md_token_choice turns the token's logits into the next token.
"""

from __future__ import annotations

import re

from stepper.export.md_steps import (
    Axes,
    Findings,
    check_line,
    heading,
    lesson_line,
    math_block,
    prose,
    tensor_block,
)
from stepper.export.md_tables import code, table, text, token
from stepper.export.md_token_choice import PICK, as_text, is_chars, pick_block, sequence, so_far, tokens
from stepper.present.captions import shown_bindings
from stepper.present.labels import shape_text
from stepper.trace import Step, Trace


def generation_section(trace: Trace, chosen: list[tuple[int, Step]], axes: Axes, precision: int,
                       quiz: dict[str, str], found: Findings) -> str:
    out = ["## Generation", _intro(trace)]
    seen_tokens: set[int] = set()
    explained: set[str] = set()  # a formula's meaning is told once, not once per token
    i = 0
    while i < len(chosen):
        n, step = chosen[i]
        k = step.token
        if k is not None and step.part != "prefill" and k not in seen_tokens:
            seen_tokens.add(k)
            out.append(f"### Token {k}")
        if step.part in PICK:
            group = [(n, step)]
            while i + 1 < len(chosen) and chosen[i + 1][1].token == k and chosen[i + 1][1].part in PICK:
                i += 1
                group.append(chosen[i])
            out.append(pick_block(group, trace, precision, quiz, explained, found))
        elif step.id == "gen.text":
            out.append(text_block(step, n, trace, axes, precision, quiz.get(step.id, ""), found))
        else:
            out.append(cache_block(step, n, trace, precision, quiz.get(step.id, ""), explained, found))
        i += 1
    return "\n\n".join(filter(None, out))


def _intro(trace: Trace) -> str:
    seq, prompt_len = sequence(trace)
    settings = []
    for s in trace.steps:
        b = shown_bindings(s)
        if s.id == "gen.1.temperature":
            settings.append(f"temperature τ = {text(b.get('τ', '?'))}")
        elif s.id == "gen.1.filter":
            settings.append(f"top-k = {text(b.get('top_k', '?'))}, top-p = {text(b.get('top_p', '?'))}")
        elif s.id == "gen.1.sample":
            settings.append("greedy (always the most likely token)" if s.bindings.get("greedy") == "true"
                            else "sampled with a seeded random draw")
    prompt = f"The prompt is {as_text(seq[:prompt_len], chars=is_chars(seq))}. " if seq else ""
    return (prompt + "The model writes one token at a time. The prompt goes through once (prefill) and "
            "leaves the keys and values of every position in a cache; after that each new token costs a "
            "single row, whose query attends over the whole cache. The last position's logits z become "
            "the next token: divided by the temperature, cut to the likeliest few, turned into "
            "probabilities, and drawn." + (f" Settings: {'; '.join(settings)}." if settings else ""))


def cache_block(step: Step, number: int, trace: Trace, precision: int, quiz: str, explained: set[str],
                found: Findings) -> str:
    layers = sorted(int(k[3:]) for k in step.outputs if re.fullmatch(r"K_L\d+", k))
    length = step.bindings.get("cache length", "?")
    parts = [heading(step, number, 1), code(step.id), math_block(step.formula.latex)]
    if step.id == "gen.prefill":
        parts.append(f"The {length} prompt tokens run through the model together. Every layer keeps one key "
                     f"row and one value row per position:")
    else:
        parts.append(f"Only the new token {token(step.bindings.get('new', '?'))} is computed. Its key and value "
                     f"are appended, so every layer's cache grows to {length} rows:")
    rows = ["| layer | K | V |", "|:---|:---|:---|"]
    rows += [f"| {i} | {shape_text(step.outputs[f'K_L{i}'].shape)} | {shape_text(step.outputs[f'V_L{i}'].shape)} |"
             for i in layers]
    parts.append("\n".join(rows))
    if quiz:
        parts.append(quiz)
    who = "the last prompt token" if step.id == "gen.prefill" else "the new token"
    for i in layers:
        a = step.outputs.get(f"A_L{i}")
        if a is not None:
            body, note = table(code(f"a (layer {i})"), a.value, a.rows, a.cols, precision)
            parts.append(f"*Where {who} looks* — layer {i}'s last attention row, one row per head, one "
                         f"column per cached position:\n\n{body}" + (f"\n\n*{note}*" if note else ""))
    if step.part not in explained:  # prefill | decode
        explained.add(step.part)
        parts.append(prose(step.formula.meaning))
    if step.lesson:
        parts.append(lesson_line(step.lesson, trace, step, found.whatif))
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(parts)


def text_block(step: Step, number: int, trace: Trace, axes: Axes, precision: int, quiz: str,
               found: Findings) -> str:
    seq, prompt_len = sequence(trace)
    parts = [heading(step, number, 1), code(step.id),
             f"**Prompt:** {tokens(seq[:prompt_len])}", f"**Generated:** {tokens(seq[prompt_len:])}",
             f"**The whole text:** {so_far(seq, prompt_len)}"]
    if quiz:
        parts.append(quiz)
    parts += [tensor_block(step, "Output", name, t, axes, precision) for name, t in step.outputs.items()]
    parts.append(check_line(found.check(step), step.phase))
    return "\n\n".join(parts)
