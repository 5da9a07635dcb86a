"""`generate:` — a decoder continues its tokens; and the same settings given on the command line.

The rules live here once, for both: the file's keys (`generate.top_p`) and the flags that override
them (`--top-p`), so a flag can never set what the file may not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from stepper.scenario import schema
from stepper.scenario.errors import ScenarioError, plural
from stepper.scenario.types import GenerateConfig, ModelConfig, Scenario, TaskConfig
from stepper.scenario.yamlread import Located

G = ("generate",)
FLAGS = {key: "--" + key.replace("_", "-") for key in schema.GENERATE}  # max_new_tokens → --max-new-tokens
_TYPES = {"max_new_tokens": int, "top_k": int, "seed": int, "temperature": float, "top_p": float, "greedy": bool}
_WHY_NOT = {"encoder": "an encoder reads the whole sequence at once and has no next token to add",
            "mlp": "an mlp has no tokens to continue"}
GENERATES = {"decoder": "next_token", "seq2seq": "seq2seq"}  # the models that generate, with the task they need


def not_a_decoder(kind: str) -> str:
    """Why generation needs a decoder, for `generate:` and for the flags alike."""
    return f"{_WHY_NOT.get(kind, f'a {kind} cannot generate')}; generation needs `model.kind: decoder` or `seq2seq`"


def prompt_length(model: ModelConfig, tokens: list[str]) -> int:
    """The tokens generation starts from: a decoder's whole input; a seq2seq decodes from `<bos>` alone."""
    return 1 if model.kind == "seq2seq" else len(tokens)


def generate_config(doc: Located, raw: dict, model: ModelConfig, task: TaskConfig, tokens: list[str]) -> GenerateConfig:
    """`raw` has passed its section's checks; the rules between keys remain."""
    cfg = GenerateConfig(**raw)

    def name(key: str, value) -> str:
        return f"`{key}: {value}`" if doc.has((*G, key)) else f"`{key}` {value} (the default)"

    problem = rules(model, task, prompt_length(model, tokens), cfg, name, lambda key, value: f"`{key}: {value}`")
    if problem:
        path, message = problem
        raise doc.error(path, message, key=path == G)
    return cfg


def rules(model: ModelConfig, task: TaskConfig, n_prompt: int, cfg: GenerateConfig,
          name: Callable[[str, object], str], fix: Callable[[str, object], str]) -> tuple[tuple, str] | None:
    """(the path at fault, the message), or None when generation can run.

    `name(key, value)` writes a setting as the learner gave it (`max_new_tokens: 9`, `--max-new-tokens 9`,
    or the default), `fix(key, value)` the way to change it.
    """
    if model.kind not in GENERATES:
        return G, f"cannot generate with `model.kind: {model.kind}` — {not_a_decoder(model.kind)}"
    if task.kind != GENERATES[model.kind]:
        return G, (f"generation picks each new token from the vocab, so it needs `task.kind: next_token` "
                      f"(this task is `{task.kind}`, whose head scores classes) — set `task.kind: next_token`, "
                      "or remove `generate`")
    if model.positional == "learned":
        n = cfg.max_new_tokens
        reach = n_prompt + n - 1  # the last new token is chosen, never fed back in (a seq2seq's prompt: `<bos>`)
        if reach > model.max_len:
            fits = model.max_len - n_prompt + 1
            lower = f"use {fix('max_new_tokens', fits)} or less, or " if fits >= 1 else ""
            # when no count fits, the prompt already fills max_len: that is the key to change
            return (*G, "max_new_tokens") if fits >= 1 else ("model", "max_len"), (
                f"{_start(model, n_prompt)} and {name('max_new_tokens', n)}, so the model reads "
                f"{n_prompt} + {n} − 1 = {reach} positions, but `model.max_len` is {model.max_len} — learned "
                f"positions have one row per position; {lower}set `model.max_len: {reach}` or more")
    return None


def _start(model: ModelConfig, n_prompt: int) -> str:
    return "the decoder starts from `<bos>`" if model.kind == "seq2seq" else f"the prompt has {plural(n_prompt, 'token')}"


def with_generation(scenario: Scenario, **overrides) -> Scenario:
    """The scenario with its `generate:` settings overridden by command-line flags (None = keep).

    Creates the default settings when the file has no `generate:`. Every flag is checked as its key
    would be in the file; a problem is a ScenarioError naming the flag.
    """
    unknown = sorted(set(overrides) - set(FLAGS))
    if unknown:
        raise TypeError(f"with_generation() got unknown settings: {', '.join(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}

    def fail(where: str | None, message: str) -> ScenarioError:
        line, col = scenario.marks.get(where, (1, 1)) if where else (1, 1)
        return ScenarioError(scenario.source, line, col, message)

    flags = ", ".join(FLAGS[k] for k in given) or "generation"
    if scenario.model.kind not in GENERATES:
        raise fail("model.kind", f"{flags}: cannot generate with `model.kind: {scenario.model.kind}` — "
                                 f"{not_a_decoder(scenario.model.kind)}")
    for key, value in given.items():
        given[key] = _flag_value(scenario, key, value)
    cfg = dataclasses.replace(scenario.generate or GenerateConfig(), **given)
    in_file = set() if scenario.generate is None else {k for k in FLAGS if f"generate.{k}" in scenario.marks}

    def name(key: str, value) -> str:
        if key in given:
            return f"{FLAGS[key]} {value}"
        return f"`{key}: {value}`" if key in in_file else f"`{key}` {value} (the default)"

    problem = rules(scenario.model, scenario.task, prompt_length(scenario.model, scenario.tokens), cfg, name,
                    lambda key, value: f"{FLAGS[key]} {value}")
    if problem:
        raise fail(None, problem[1])
    before = scenario.generate or GenerateConfig()
    changed = " ".join(f"{FLAGS[k]} {v:g}" if isinstance(v, float) else FLAGS[k] if v is True else f"{FLAGS[k]} {v}"
                       for k, v in given.items() if getattr(before, k) != v or scenario.generate is None)
    return dataclasses.replace(scenario, generate=cfg, overrides=" ".join(filter(None, [scenario.overrides, changed])))


def _flag_value(scenario: Scenario, key: str, value):
    flag, spec, want = FLAGS[key], schema.GENERATE[key], _TYPES[key]

    def fail(message: str) -> ScenarioError:
        return ScenarioError(scenario.source, 1, 1, message)

    if want is bool:
        if not isinstance(value, bool):
            raise fail(f"{flag} is on or off, got {value!r} — give the flag alone to turn it on")
        return value
    ok_types = (int,) if want is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        what = "a whole number" if want is int else "a number"
        raise fail(f"{flag} must be {what}, got {value!r} — e.g. {flag} {spec.sample()}")
    if want is float:
        value = float(value) if not isinstance(value, int) or abs(value) < 2**1000 else math.inf
        if not math.isfinite(value):
            raise fail(f"{flag} {value} is not a finite number — e.g. {flag} {spec.sample()}")
    if not spec.in_range(value):
        raise fail(f"{flag} {value:g} is out of range — use {spec.range_text(want is int)}"
                   if want is float else f"{flag} {value} is out of range — use {spec.range_text(True)}")
    return value
