"""Scenario file → typed Scenario, or a ScenarioError that points at the offending spot."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from stepper.scenario import schema
from stepper.scenario.errors import ScenarioError, did_you_mean
from stepper.scenario.limits import limit_message
from stepper.scenario.params import init_param, n_outputs, param_specs
from stepper.scenario.types import PAD, ModelConfig, Scenario, TaskConfig
from stepper.scenario.yamlread import Located, read_yaml


def load_scenario(path: str | Path, *, force: bool = False) -> Scenario:
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise ScenarioError(file, 1, 1, "no such file — check the path")
    if path.is_dir():
        raise ScenarioError(file, 1, 1, "this is a directory — give a .yaml scenario file")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise ScenarioError(file, 1, 1, "this is a binary file, not a YAML scenario")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(file, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_scenario(text, file, force=force)


def parse_scenario(text: str, file: str = "<scenario>", *, force: bool = False) -> Scenario:
    doc = read_yaml(text, file)
    if not isinstance(doc.value, dict):
        raise doc.error((), "the top level must be a mapping of keys like `name:` and `model:`")
    top = _section(doc, (), doc.value, schema.TOP)
    name = top["name"]
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise doc.error(("name",), f"name `{name}` may use only a-z, 0-9, `_` and `-`")
    model_raw = _section(doc, ("model",), top["model"], schema.MODEL)
    input_raw = _section(doc, ("input",), top["input"], schema.INPUT)
    task_raw = _section(doc, ("task",), top["task"], schema.TASK)
    weights_raw = _section(doc, ("weights",), top["weights"], schema.WEIGHTS)
    init_raw = _section(doc, ("weights", "init"), weights_raw["init"], schema.INIT)

    values = weights_raw["values"]
    model = _model(doc, model_raw, values)
    vocab, tokens, features = _inputs(doc, model, input_raw)
    task = _task(doc, model, task_raw, vocab, tokens)
    too_big = limit_message(model, len(vocab), task.kind, len(task.classes), len(tokens))
    if too_big and not force:
        raise doc.error(("model",), too_big)
    n_out = n_outputs(model, task.kind, len(task.classes), len(vocab))
    specs = param_specs(model, len(vocab), n_out)
    params = {}
    for pname, (shape, how) in specs.items():
        params[pname] = init_param(pname, shape, how, weights_raw["seed"], init_raw["std"], init_raw["bias_std"])
    for pname, given in values.items():
        params[pname] = _explicit(doc, ("weights", "values", pname), pname, given, specs)
    lessons = {str(k): str(v) for k, v in top["lessons"].items()}
    return Scenario(name=name, model=model, task=task, vocab=vocab, tokens=tokens, params=params,
                    title=top["title"], description=top["description"], lessons=lessons,
                    features=features, source=file)


def _section(doc: Located, path, raw, keys: dict[str, schema.Key]) -> dict:
    """Check one mapping against its schema; return it with defaults filled in."""
    if not isinstance(raw, dict):
        raise doc.error(path, f"`{'.'.join(path) or 'top level'}` must be a mapping of keys")
    for key in raw:
        if key not in keys:
            raise doc.error((*path, key), f"unknown key `{key}`" + did_you_mean(key, keys), key=True)
    out = {}
    for key, spec in keys.items():
        if key not in raw:
            if spec.required:
                where = f" in `{'.'.join(path)}`" if path else ""
                raise doc.error(path, f"missing required key `{key}`{where} ({spec.doc})")
            out[key] = spec.default
            continue
        out[key] = _typed(doc, (*path, key), key, raw[key], spec)
    return out


def _typed(doc: Located, path, key: str, value, spec: schema.Key):
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        wanted = " or ".join(_type_name(t) for t in types)
        raise doc.error(path, f"`{key}` must be {wanted}, got {_type_name(type(value))} {value!r}")
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        raise doc.error(path, f"`{key}: {value}` is not allowed — use one of: {allowed}")
    if isinstance(value, float) and not math.isfinite(value):
        raise doc.error(path, f"`{key}` must be a finite number, got {value}")
    if spec.low is not None and isinstance(value, int | float) and not spec.low <= value <= spec.high:
        raise doc.error(path, f"`{key}: {value}` is out of range — use {spec.low:g} to {spec.high:g}")
    return value


def _type_name(t: type) -> str:
    return {int: "a whole number", float: "a number", str: "text", bool: "true/false", list: "a list",
            dict: "a mapping", type(None): "nothing"}.get(t, t.__name__)


def _model(doc: Located, raw: dict, values: dict) -> ModelConfig:
    if raw["d_model"] % raw["n_heads"]:
        raise doc.error(("model", "n_heads"), f"d_model {raw['d_model']} is not divisible by n_heads "
                        f"{raw['n_heads']} — each head gets d_model / n_heads columns")
    max_len = raw["max_len"]
    if max_len is None:
        given = values.get("embed.pos") if isinstance(values, dict) else None
        max_len = len(given) if isinstance(given, list) and given else 8
    sizes = raw["sizes"]
    if raw["kind"] == "mlp":
        if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise doc.error(("model", "sizes"), "an mlp needs `sizes:` with at least two positive whole "
                            "numbers, input width first, e.g. [2, 2, 1]")
    elif raw["activation"] == "none":
        raise doc.error(("model", "activation"), "`activation: none` is only for `kind: mlp`")
    if raw["tie_embeddings"] and raw["kind"] != "decoder":
        raise doc.error(("model", "tie_embeddings"), "tied embeddings need `kind: decoder` "
                        "(the head reuses embed.tok to score every vocabulary entry)")
    fields = {k: v for k, v in raw.items() if k not in ("max_len", "sizes")}
    return ModelConfig(**fields, max_len=max_len, sizes=tuple(sizes))


def _inputs(doc: Located, model: ModelConfig, raw: dict):
    if model.kind == "mlp":
        feats = raw["features"]
        if feats is None:
            raise doc.error(("input",), "an mlp needs `input.features:`, a list of numbers")
        if len(feats) != model.sizes[0]:
            raise doc.error(("input", "features"), f"features has {len(feats)} numbers but sizes[0] is "
                            f"{model.sizes[0]}")
        return [], [], tuple(_number(doc, ("input", "features", i), v) for i, v in enumerate(feats))
    tokens = raw["tokens"]
    if tokens is None and raw["text"] is not None:
        text = raw["text"]
        tokens = list(text) if raw["tokenizer"] == "char" else text.split()
    if not tokens:
        raise doc.error(("input",), "no input: give `input.tokens:` (a list) or `input.text:`")
    tokens = [str(t) for t in tokens]
    vocab = raw["vocab"]
    vocab = [str(v) for v in vocab] if vocab is not None else [PAD, *sorted(set(tokens) - {PAD})]
    if len(set(vocab)) != len(vocab):
        dup = next(v for v in vocab if vocab.count(v) > 1)
        raise doc.error(("input", "vocab"), f"`{dup}` appears twice in the vocab — keep one")
    for i, tok in enumerate(tokens):
        if tok not in vocab:
            raise doc.error(("input", "tokens", i), f"token `{tok}` is not in the vocab"
                            + did_you_mean(tok, vocab).replace("valid keys", "the vocab is"))
    if tokens[0] == PAD:
        raise doc.error(("input", "tokens", 0), "the first token is `<pad>`: it would have nothing to attend to")
    if model.positional == "learned" and len(tokens) > model.max_len:
        raise doc.error(("input", "tokens"), f"{len(tokens)} tokens but max_len is {model.max_len} — "
                        "learned positions have one row per position; raise `model.max_len`")
    return vocab, tokens, ()


def _task(doc: Located, model: ModelConfig, raw: dict, vocab, tokens) -> TaskConfig:
    kind = raw["kind"] or {"encoder": "classify", "decoder": "next_token", "mlp": "regress"}[model.kind]
    if kind == "next_token":
        if model.kind != "decoder":
            raise doc.error(("task", "kind"), "next_token needs `model.kind: decoder` — an encoder "
                            "sees the token it would have to predict")
        if len(tokens) < 2:
            raise doc.error(("input", "tokens"), "next-token prediction needs at least 2 tokens "
                            "(input A… and target …B)")
        return TaskConfig(kind=kind)
    if kind == "regress":
        target = raw["target"]
        target = [target] if isinstance(target, int | float) else target
        if target is None:
            raise doc.error(("task",), "regress needs `task.target:`, the value(s) to fit")
        width = model.sizes[-1] if model.kind == "mlp" else 1
        if len(target) != width:
            raise doc.error(("task", "target"), f"target has {len(target)} values, the output has {width}")
        return TaskConfig(kind=kind, target=tuple(_number(doc, ("task", "target", i), v)
                                                  for i, v in enumerate(target)))
    classes = raw["classes"]
    if not classes or len(classes) < 2:
        raise doc.error(("task",), "classify needs `task.classes:` with at least two names")
    classes = tuple(str(c) for c in classes)
    label = raw["label"]
    if label is None:
        raise doc.error(("task",), "classify needs `task.label:`, the true class")
    if isinstance(label, int) and str(label) not in classes:
        if not 0 <= label < len(classes):
            raise doc.error(("task", "label"), f"label index {label} is out of range 0..{len(classes) - 1}")
        label = classes[label]
    label = str(label)
    if label not in classes:
        raise doc.error(("task", "label"), f"label `{label}` is not one of the classes: {', '.join(classes)}")
    return TaskConfig(kind=kind, classes=classes, label=label)


def _number(doc: Located, path, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(path, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise doc.error(path, f"expected a finite number, got {value}")
    return float(value)


def _explicit(doc: Located, path, pname: str, given, specs) -> np.ndarray:
    if pname not in specs:
        raise doc.error(path, f"this model has no parameter `{pname}`"
                        + did_you_mean(pname, specs).replace("valid keys", "its parameters are"), key=True)
    shape = specs[pname][0]
    arr = _array(doc, path, given)
    if arr.shape != shape:
        raise doc.error(path, f"`{pname}` must have shape [{', '.join(map(str, shape))}], "
                        f"got [{', '.join(map(str, arr.shape))}]")
    return arr


def _array(doc: Located, path, given) -> np.ndarray:
    """Nested lists of numbers → float64 array; ragged rows and non-numbers are located."""
    def walk(v, p):
        if isinstance(v, list):
            items = [walk(x, (*p, i)) for i, x in enumerate(v)]
            shapes = {np.shape(x) for x in items}
            if len(shapes) > 1:
                lens = [len(x) if isinstance(x, list) else 1 for x in v]
                raise doc.error(p, f"ragged rows: lengths {lens} — every row needs the same length")
            return items
        return _number(doc, p, v)

    return np.asarray(walk(given, path), dtype=np.float64)
