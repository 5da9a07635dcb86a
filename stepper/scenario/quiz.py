"""`quiz:` — the author's own questions, each asked before the step it names.

Each item becomes a plain dict {step, ask, answer, tolerance, why}: the engine copies them into
`trace.quiz` and stepper/quiz/session.py marks the replies.
"""

from __future__ import annotations

from stepper.scenario import schema
from stepper.scenario.fields import got, number, section
from stepper.scenario.yamlread import Located

Q = ("quiz",)
PHASES = ("fwd", "bwd", "upd", "gen")  # the first part of every step id
# step ids of a phase that exists only with a section: the id would never come up without it
NEEDS = {"upd": ("optim", "training updates"), "gen": ("generate", "generation")}
EXAMPLE = '`- {step: fwd.loss, ask: "What is the loss?", answer: 0.69, tolerance: 0.01}`'


def quiz_items(doc: Located, raw: list) -> list[tuple[int, dict]]:
    """Each item's own keys checked (known, typed, required); (index, item with defaults) in order."""
    items = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise doc.error((*Q, i), f"each quiz item is a mapping with `step:`, `ask:` and `answer:`, got "
                                     f"{got(doc, (*Q, i), item)} — e.g. {EXAMPLE}")
        items.append((i, section(doc, (*Q, i), item, schema.QUIZ)))
    return items


def quiz(doc: Located, items: list[tuple[int, dict]], sections: set[str]) -> tuple[dict, ...]:
    """The rules between keys: a step id that can come up, asked once, an answer that can be marked.

    `sections`: the optional top-level sections the file has (`optim`, `generate`).
    """
    out, seen = [], {}
    for i, item in items:
        path = (*Q, i)
        step = item["step"]
        phase = step.split(".", 1)[0]
        if any(c in step for c in "*?[]"):
            raise doc.error((*path, "step"), f"`step: {step}` is a pattern, but a question is asked before one "
                                             "step — give its exact id, e.g. `fwd.L0.attn.softmax` "
                                             "(`stepper export FILE --format md` lists them)")
        if phase not in PHASES or "." not in step:
            raise doc.error((*path, "step"), f"`step: {step}` is no step id: step ids start with `fwd.`, `bwd.`, "
                                             "`upd.` or `gen.` — e.g. `fwd.embed` or `bwd.loss`")
        if phase in NEEDS and NEEDS[phase][0] not in sections:
            key, what = NEEDS[phase]
            raise doc.error((*path, "step"), f"`{phase}.` steps are {what}, and this scenario has no `{key}:` — "
                                             f"add an `{key}:` section, or ask at another step")
        if step in seen:
            raise doc.error((*path, "step"), f"quiz item {seen[step]} already asks at `{step}` — one question "
                                             "per step: merge the two or pick another step")
        seen[step] = i
        if not item["ask"].strip():
            raise doc.error((*path, "ask"), "`ask` is empty — write the question, e.g. `ask: What is the loss?`")
        answer = _answer(doc, (*path, "answer"))
        if isinstance(answer, str) and doc.has((*path, "tolerance")):
            raise doc.error((*path, "tolerance"), f"`tolerance` is for a number answer, and `answer: {answer}` "
                                                  "is text, marked by exact match — remove `tolerance`", key=True)
        out.append({"step": step, "ask": item["ask"], "answer": answer, "tolerance": item["tolerance"],
                    "why": item["why"]})
    return tuple(out)


def _answer(doc: Located, path: tuple) -> float | int | str:
    """A number stays a number (checked finite); anything else is the text as written."""
    value = doc.value
    for p in path:
        value = value[p]
    if isinstance(value, int | float) and not isinstance(value, bool):
        number(doc, path, value, "a number")
        return value
    text = doc.raw.get(path, str(value)).strip()
    if not text:
        raise doc.error(path, "`answer` is empty — write the number or word expected, e.g. `answer: 0.69`")
    return text
