"""The rules between keys: a model that can be built, and a task that model can be trained on."""

from __future__ import annotations

from stepper.scenario.errors import did_you_mean, listing, plural
from stepper.scenario.fields import numbers, whole, words
from stepper.scenario.types import PAD, ModelConfig, TaskConfig
from stepper.scenario.yamlread import Located

M, T = ("model",), ("task",)
MAX_WIDTH, MAX_MLP_LAYERS, DEFAULT_MAX_LEN, MAX_LEN = 16384, 48, 8, 4096
DEFAULT_TASK = {"encoder": "classify", "decoder": "next_token", "mlp": "regress"}
TASK_KEYS = {"classes": "classify", "label": "classify", "target": "regress"}


def model_config(doc: Located, raw: dict, values: dict) -> ModelConfig:
    kind = raw["kind"]
    if kind == "mlp":
        sizes = raw["sizes"]
        if sizes is None:
            raise doc.error(M, "an mlp needs `sizes:`, its layer widths with the input first, e.g. "
                               "`sizes: [2, 2, 1]` — add it under `model:`")
        if not 2 <= len(sizes) <= MAX_MLP_LAYERS + 1:
            raise doc.error((*M, "sizes"), f"`sizes` has {plural(len(sizes), 'width')} — give 2 to "
                                           f"{MAX_MLP_LAYERS + 1} (input width, hidden widths…, output width), "
                                           "e.g. [2, 2, 1]")
        sizes = tuple(whole(doc, (*M, "sizes", i), s, 1, MAX_WIDTH, "width")
                      for i, s in enumerate(sizes))
    else:
        sizes = ()
        d, h = raw["d_model"], raw["n_heads"]
        if d % h:
            fits = listing(n for n in range(1, min(d, 64) + 1) if d % n == 0)
            raise doc.error((*M, "n_heads"), f"d_model {d} is not divisible by n_heads {h} — each head gets "
                                             f"d_model / n_heads columns; pick n_heads from {fits}")
        if raw["activation"] == "none":
            raise doc.error((*M, "activation"), "`activation: none` is only for `kind: mlp` — a transformer's "
                                                "FFN needs one of: `relu`, `gelu`, `gelu_tanh`")
        if raw["tie_embeddings"] and kind != "decoder":
            raise doc.error((*M, "tie_embeddings"), "tied embeddings need `kind: decoder` (the head reuses "
                                                    "embed.tok to score every vocabulary entry) — remove it")
    return ModelConfig(**{k: v for k, v in raw.items() if k not in ("max_len", "sizes")},
                       max_len=_max_len(doc, raw, values), sizes=sizes)


def _max_len(doc: Located, raw: dict, values: dict) -> int:
    """Given, or the rows of an explicit embed.pos, or 8."""
    if raw["max_len"] is not None:
        return raw["max_len"]
    given = values.get("embed.pos")
    if isinstance(given, list) and 1 <= len(given) <= MAX_LEN:
        return len(given)
    return DEFAULT_MAX_LEN


def task_config(doc: Located, model: ModelConfig, raw: dict, tokens: list[str]) -> TaskConfig:
    kind = raw["kind"] or DEFAULT_TASK[model.kind]
    _compatible(doc, model.kind, kind)
    if model.tie_embeddings and kind != "next_token":
        raise doc.error((*M, "tie_embeddings"), "tied embeddings score every vocabulary entry, so they need "
                                                f"`task.kind: next_token` (this task is `{kind}`) — remove "
                                                "`tie_embeddings`")
    for key, owner in TASK_KEYS.items():
        if raw[key] is not None and kind != owner:
            raise doc.error((*T, key), f"`{key}` is for `task.kind: {owner}`, but this task is `{kind}` — "
                                       f"remove `{key}`, or set `task.kind: {owner}`", key=True)
    if kind == "next_token":
        return _next_token(doc, model, tokens)
    if kind == "regress":
        return _regress(doc, model, raw["target"])
    return _classify(doc, model, raw)


def _compatible(doc: Located, model_kind: str, kind: str) -> None:
    """Checked before the task's other keys: a wrong kind is the likelier mistake than a wrong key."""
    if kind == "regress" and model_kind != "mlp":
        raise doc.error((*T, "kind"), "`regress` is for `model.kind: mlp` — a transformer here does "
                                      "`classify` or `next_token`")
    if kind == "next_token" and model_kind == "mlp":
        raise doc.error((*T, "kind"), "next_token needs `model.kind: decoder` — an mlp does `regress` or "
                                      "`classify`")
    if kind == "next_token" and model_kind != "decoder":
        raise doc.error((*T, "kind"), f"next_token needs `model.kind: decoder` — an {model_kind} would see the "
                                      "token it has to predict; use `task.kind: classify` or a decoder")


def _next_token(doc: Located, model: ModelConfig, tokens: list[str]) -> TaskConfig:
    where = ("input", "tokens") if doc.has(("input", "tokens")) else ("input", "text")
    if len(tokens) < 2:
        raise doc.error(where, f"next-token prediction needs at least 2 tokens (input A… predicts …B), got "
                               f"{len(tokens)} — add a token")
    if all(t == PAD for t in tokens[1:]):
        raise doc.error(where, "every target token is `<pad>`, and `<pad>` targets are not scored, so "
                               "there is no loss — add a real token after the first")
    return TaskConfig(kind="next_token")


def _regress(doc: Located, model: ModelConfig, target) -> TaskConfig:
    if target is None:
        raise doc.error(T, "regress needs `task.target:`, the value(s) to fit, e.g. `target: [0.5]` "
                           "(or set `task.kind: classify` with `classes:` and `label:`)")
    path, out = (*T, "target"), model.sizes[-1]
    target = [target] if isinstance(target, float) else target  # `target: 0.5` for a single output
    if len(target) != out:
        raise doc.error(path, f"`target` has {plural(len(target), 'number')} but the mlp has "
                              f"{plural(out, 'output')} (the last of `sizes`) — give {out}, or change `sizes`")
    return TaskConfig(kind="regress", target=numbers(doc, path, target, "a target number"))


def _classify(doc: Located, model: ModelConfig, raw: dict) -> TaskConfig:
    classes = raw["classes"]
    if classes is None:
        raise doc.error(T, "classify needs `task.classes:`, at least two class names, e.g. "
                           "`classes: [negative, positive]`")
    classes = words(doc, (*T, "classes"), classes, "class")
    if len(classes) < 2:
        raise doc.error((*T, "classes"), f"`classes` has {plural(len(classes), 'name')} — "
                                         "give at least two, e.g. [negative, positive]")
    seen: set[str] = set()
    for i, c in enumerate(classes):
        if c in seen:
            raise doc.error((*T, "classes", i), f"class `{c}` is listed twice — keep one")
        seen.add(c)
    if model.kind == "mlp" and model.sizes[-1] != len(classes):
        raise doc.error((*M, "sizes"), f"the mlp has {plural(model.sizes[-1], 'output')} (last of `sizes`) but "
                                       f"there are {len(classes)} classes — make the last size {len(classes)}")
    label = raw["label"]
    if label is None:
        raise doc.error(T, f"classify needs `task.label:`, the true class, e.g. `label: {classes[-1]}`")
    if label not in classes:
        given = _given(doc, (*T, "label"))
        if isinstance(given, int) and not isinstance(given, bool) and 0 <= given < len(classes):
            raise doc.error((*T, "label"), f"`label: {label}` looks like an index — give the class by name: "
                                           f"`label: {classes[given]}`")
        raise doc.error((*T, "label"), f"label `{label}` is not one of the classes"
                        + did_you_mean(label, classes, what="use one of"))
    return TaskConfig(kind="classify", classes=tuple(classes), label=label)


def _given(doc: Located, path: tuple):
    """The value at `path` as YAML typed it (before we kept its text)."""
    value = doc.value
    for p in path:
        value = value.get(p) if isinstance(value, dict) else None
    return value
