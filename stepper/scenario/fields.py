"""Checks of single keys and values against the schema: present, known, typed, allowed, in range."""

from __future__ import annotations

import math

from stepper.scenario import schema
from stepper.scenario.errors import did_you_mean, listing
from stepper.scenario.yamlread import Located

_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false", list: "a list",
          dict: "a mapping", schema.Word: "a word or text"}
# why a key does not apply, by the section it is in and the kind it is for
_WIDTHS = ("d_model", "n_heads", "n_layers", "d_ff", "max_len")
_ONLY_FIX = {("model", "mlp"): "an mlp's widths are `model.sizes`", ("input", "mlp"): "an mlp reads `input.features`",
             ("task", "encoder"): "a transformer reads one sequence: give its class as `label:`",
             ("task", "decoder"): "a transformer reads one sequence: give its class as `label:`",
             ("input", "seq2seq"): "a seq2seq reads two sequences: use `source:` (or `source_text:`) and "
                                   "`target:` (or `target_text:`)",
             ("data", "seq2seq"): "a seq2seq example gives `source:` (or `source_text:`) and `target:` "
                                  "(or `target_text:`)",
             ("task", "seq2seq"): "a seq2seq's answer is its `target:` sequence"}
# why one key does not apply to one kind, when the section's reason above does not say it
_KEY_FIX = {("pooling", "seq2seq"): "a seq2seq predicts a token at every target position; nothing is pooled"}


def dotted(path) -> str:
    return ".".join(str(p) for p in path) or "top level"


def section(doc: Located, path: tuple, raw, keys: dict[str, schema.Key], kind: str | None = None) -> dict:
    """Check one mapping against its schema; return it with defaults filled in."""
    if raw is None:  # `input:` with every line under it commented out
        raw = {}
    for key in raw:
        if key not in keys:
            hint = _elsewhere(key, keys)
            if not path and "did you mean" not in hint:
                hint += "; or name it `x-…` to keep your own data (e.g. an anchor) at the top"
            raise doc.error((*path, key), f"unknown key `{key}` in `{dotted(path)}`{hint}", key=True)
        only = keys[key].only
        if kind is not None and only and kind not in only:
            fix = f"it is for `kind: {' or '.join(only)}`"
            if path[:1] != ("model",) or key in _WIDTHS:
                fix = _ONLY_FIX.get((path[0], kind), fix)
            fix = _KEY_FIX.get((key, kind), fix)
            raise doc.error((*path, key), f"`{key}` does not apply to `kind: {kind}` — remove it ({fix})",
                            key=True)
    out = {}
    for key, spec in keys.items():
        if key not in raw:
            if spec.required:
                where = f" in `{dotted(path)}`" if path else ""
                eg = f", e.g. `{key}: {spec.sample()}`" if spec.sample() else ""
                if spec.type is dict:
                    eg = f", e.g. `{key}:` with `{spec.sample()}` indented on the line below"
                raise doc.error(path, f"missing required key `{key}`{where} — add it ({spec.doc}){eg}")
            out[key] = spec.default
            continue
        out[key] = typed(doc, (*path, key), key, raw[key], spec)
    return out


def _elsewhere(key: str, keys) -> str:
    """Did-you-mean within this section, or the section the key belongs in."""
    for name, other in {"top level": schema.TOP, **schema.SECTIONS}.items():
        if key in other and other is not keys:
            return f" — `{key}` belongs under `{name}:`" if name != "top level" else " — it belongs at the top level"
    return did_you_mean(key, keys)


def typed(doc: Located, path: tuple, key: str, value, spec: schema.Key):
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    eg = f"`{key}: {spec.sample()}`"
    if dict in types:
        if value is None:  # a section whose lines are all commented out
            return {}
        if not isinstance(value, dict):
            raise doc.error(path, f"`{key}` must be a mapping, got {got(doc, path, value)} — put its keys on "
                                  f"the lines below `{key}:`, indented, e.g. `{spec.sample()}`")
        return value
    if value is None:
        rest = ", or delete the line to use the default" if not spec.required and spec.default is not None else ""
        raise doc.error(path, f"`{key}:` has no value — write e.g. {eg}{rest}")
    if schema.Word in types and not isinstance(value, list | dict):
        return doc.raw.get(tuple(path), str(value))
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value) if abs(value) < 2**1000 else math.inf  # float() of a longer int overflows
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        wanted = " or ".join(_NAMES.get(t, t.__name__) for t in types)
        raise doc.error(path, f"`{key}` must be {wanted}, got {got(doc, path, value)} — write e.g. {eg}")
    if spec.choices and value not in spec.choices:
        close = did_you_mean(value, spec.choices)
        close = f" (did you mean `{close.split('`')[1]}`?)" if "did you mean" in close else ""
        raise doc.error(path, f"`{key}: {written(doc, path, value)}` is not allowed — use one of: "
                              f"{listing(spec.choices)}{close}")
    if isinstance(value, float) and not math.isfinite(value):
        raise doc.error(path, f"`{key}: {written(doc, path, value)}` is {_infinite(value)} — write e.g. {eg}")
    if spec.low is not None and isinstance(value, int | float) and not spec.in_range(value):
        whole = int in types and float not in types
        raise doc.error(path, f"`{key}: {written(doc, path, value)}` is out of range — use "
                              f"{spec.range_text(whole)}")
    return value


def written(doc: Located, path: tuple, value) -> str:
    """A scalar as the learner typed it (`1e400`, not `inf`; `yes`, not `True`), cut to fit one line."""
    text = doc.raw.get(tuple(path), str(value))
    return text if len(text) <= 30 else text[:29] + "…"


def got(doc: Located, path: tuple, value) -> str:
    """What was found instead, for "must be X, got …"."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    kind = " (text)" if isinstance(value, str) else " (true or false)" if isinstance(value, bool) else ""
    return f"`{written(doc, path, value)}`{kind}"


def _infinite(value: float) -> str:
    return "NaN, not a number" if math.isnan(value) else "infinite (too large for a float64)"


def number(doc: Located, path: tuple, value, what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise doc.error(path, f"expected {what}, got {got(doc, path, value)} — write e.g. 0.5")
    if isinstance(value, int) and abs(value) >= 2**1000:  # float() of a longer int overflows
        value = math.inf
    if not math.isfinite(value):
        raise doc.error(path, f"`{written(doc, path, value)}` is {_infinite(value)} — write an ordinary "
                              "finite number, e.g. 0.5")
    return float(value)


def numbers(doc: Located, path: tuple, values: list, what: str) -> tuple[float, ...]:
    return tuple(number(doc, (*path, i), v, what) for i, v in enumerate(values))


def words(doc: Located, path: tuple, values: list, what: str) -> list[str]:
    """A list of plain scalars, each kept as written (so `[yes, no]` stays two words)."""
    out = []
    for i, v in enumerate(values):
        if v is None and doc.raw.get((*path, i)):  # `null` and `~` are words too; only a blank is not
            v = doc.raw[(*path, i)]
        if v is None or isinstance(v, list | dict):
            raise doc.error((*path, i), f"each {what} must be a plain word, got {got(doc, (*path, i), v)} — write "
                                        "e.g. [I, am, happy]")
        out.append(doc.raw.get((*path, i), str(v)))
    return out


def whole(doc: Located, path: tuple, value, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise doc.error(path, f"each {what} must be a whole number, got {got(doc, path, value)} — write e.g. 2")
    if not low <= value <= high:
        raise doc.error(path, f"the {what} `{written(doc, path, value)}` is out of range — use a whole number "
                              f"from {low} to {high}")
    return value
