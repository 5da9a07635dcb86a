"""Lessons and quiz questions name steps; once the model's step ids are known, each name should find one.

Which steps a model has follows from its whole config (layers, heads, norm placement, training,
generation), so names are checked against the ids of the built trace rather than while the file
is read. A name that finds nothing is a warning, not an error: a lesson written for the √d_k step
must not stop the learner who switches `attention_scale` off to see what changes, but nobody
should lose a lesson or a question to a typo without a word either.
"""

from __future__ import annotations

import difflib
import fnmatch

from stepper.scenario.errors import ScenarioWarning
from stepper.scenario.quiz import NEEDS
from stepper.scenario.types import Scenario

LISTED = "`stepper export FILE --format md` lists every step id"


def step_name_warnings(scenario: Scenario, step_ids: list[str]) -> list[ScenarioWarning]:
    """A warning for each lesson pattern that matches no step, and each quiz step that is none."""
    ids = set(step_ids)
    out = []
    for pattern in scenario.lessons:
        if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
            out.append(_warning(scenario, f"lessons.{pattern}", f"the lesson pattern `{pattern}` matches no step of "
                                f"this model, so it is never shown{_did_you_mean(pattern, step_ids)}"))
    for i, question in enumerate(scenario.quiz):
        step = question["step"]
        if step not in ids:
            out.append(_warning(scenario, f"quiz.{i}.step", f"`step: {step}` is not a step of this model, so the "
                                f"question is never asked{_did_you_mean(step, step_ids)}"))
    return out


def _warning(scenario: Scenario, where: str, message: str) -> ScenarioWarning:
    line, col = scenario.marks.get(where, (1, 1))
    return ScenarioWarning(scenario.source, line, col, message)


def _did_you_mean(name: str, step_ids: list[str]) -> str:
    """` — did you mean `fwd.*.mask`?`: a misspelt part put right, the layers or heads the model has,
    the section a phase needs, or the closest whole id."""
    phase = name.split(".", 1)[0]
    if phase in NEEDS and not any(i.startswith(f"{phase}.") for i in step_ids):
        key, what = NEEDS[phase]
        return f": `{phase}.` steps are {what}, and this scenario has no `{key}:`"
    parts = {p for i in step_ids for p in i.split(".")}
    words = name.split(".")
    for kind, what in (("L", "layer"), ("h", "head")):  # a layer or head the model does not have
        have = sorted((p for p in parts if p[:1] == kind and p[1:].isdigit()), key=lambda p: int(p[1:]))
        wrong = [w for w in words if w[:1] == kind and w[1:].isdigit() and w not in have]
        if have and wrong:
            return (f": this model has no {what} {wrong[0][1:]} — its {what}s are "
                    f"{', '.join(have) if len(have) <= 4 else f'{have[0]} … {have[-1]}'} ({LISTED})")
    for k, word in enumerate(words):
        if word in parts or any(c in word for c in "*?["):
            continue
        for close in difflib.get_close_matches(word, sorted(parts), n=3, cutoff=0.6):
            fixed = ".".join([*words[:k], close, *words[k + 1:]])
            if any(fnmatch.fnmatchcase(i, fixed) for i in step_ids):
                return f" — did you mean `{fixed}`? ({LISTED})"
    close = difflib.get_close_matches(name, step_ids, n=1, cutoff=0.6)
    return f" — did you mean `{close[0]}`? ({LISTED})" if close else f" ({LISTED})"
