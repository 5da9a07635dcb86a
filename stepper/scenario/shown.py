"""The scenario as the TUI shows it: every string from the file with its control characters drawn.

The TUI paints a scenario's strings everywhere (the title bar, token labels on every matrix,
class names, lessons, quiz questions), so instead of guarding each widget, the scenario it opens
has them drawn already (see visible.py): ESC as ␛, BEL as ␇. The numbers are untouched, and so is
which token is which: the engine reads tokens by their place in the vocabulary, and two entries
that would look alike once drawn are an error rather than silently one token.
"""

from __future__ import annotations

import dataclasses

from stepper.scenario.errors import ScenarioError
from stepper.scenario.types import Scenario
from stepper.visible import is_visible, visible


def _line(text: str) -> str:
    return visible(text, keep="")


def shown_scenario(scenario: Scenario) -> Scenario:
    """`scenario` itself when nothing in it needs drawing, else a copy with its strings drawn."""
    if all(map(is_visible, _strings(scenario))):
        return scenario
    task = scenario.task
    vocab = _distinct(scenario, "input.vocab", "vocab entries", scenario.vocab)
    classes = _distinct(scenario, "task.classes", "class names", task.classes)
    task = dataclasses.replace(task, classes=tuple(classes), labels=tuple(map(_line, task.labels)),
                               label=None if task.label is None else _line(task.label))
    quiz = tuple({k: _line(v) if isinstance(v, str) else v for k, v in q.items()} for q in scenario.quiz)
    return dataclasses.replace(
        scenario, title=_line(scenario.title), description=visible(scenario.description),
        lessons={_line(k): visible(v) for k, v in scenario.lessons.items()}, vocab=vocab,
        tokens=[_line(t) for t in scenario.tokens], task=task, quiz=quiz, source=_line(scenario.source),
        marks={_line(k): v for k, v in scenario.marks.items()})


def _strings(scenario: Scenario):
    yield from (scenario.title, scenario.description, scenario.source, *scenario.vocab, *scenario.tokens)
    yield from (*scenario.lessons, *scenario.lessons.values(), *scenario.task.classes, *scenario.task.labels)
    yield from (scenario.task.label or "", *(v for q in scenario.quiz for v in q.values() if isinstance(v, str)))


def _distinct(scenario: Scenario, where: str, what: str, names) -> list[str]:
    drawn = [_line(n) for n in names]
    if len(set(drawn)) < len(set(names)):
        line, col = scenario.marks.get(where, (1, 1))
        raise ScenarioError(scenario.source, line, col, f"two {what} look the same once their control characters "
                                                        "are drawn (␛ is ESC) — make them differ in what they show")
    return drawn
