"""The rules between keys: a model that can be built, and a task that model can be trained on."""

from __future__ import annotations

from stepper.scenario.attention_rules import check_attention
from stepper.scenario.concat_positions import resolved_d_pos
from stepper.scenario.errors import did_you_mean, listing, plural
from stepper.scenario.fields import got, numbers, whole, words
from stepper.scenario.types import PAD, SUBLAYERS, ModelConfig, TaskConfig
from stepper.scenario.yamlread import Located

M, T = ("model",), ("task",)
MAX_WIDTH, MAX_MLP_LAYERS, DEFAULT_MAX_LEN, MAX_LEN = 16384, 48, 8, 4096
DEFAULT_TASK = {"encoder": "classify", "decoder": "next_token", "mlp": "regress", "seq2seq": "seq2seq"}
# the tasks whose head scores every vocabulary entry, so it may reuse embed.tok (tie_embeddings)
VOCAB_TASKS = {"decoder": "next_token", "seq2seq": "seq2seq"}
TASK_KEYS = {"classes": "classify", "label": "classify", "labels": "classify", "target": "regress"}


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
        if raw["tie_embeddings"] and kind not in VOCAB_TASKS:
            raise doc.error((*M, "tie_embeddings"), "tied embeddings need `kind: decoder` or `seq2seq` (the head "
                                                    "reuses embed.tok to score every vocabulary entry) — remove it")
        if raw["norm_type"] == "batch" and raw["norm"] == "none" and not raw["final_norm"]:
            raise doc.error((*M, "norm_type"), "`norm_type: batch` chooses what ln1, ln2 and ln_f are, and with "
                                               "`norm: none` and no `final_norm` there are none — set `norm: post` "
                                               "or `pre`, or remove `norm_type`")
        check_attention(doc, raw)
    # seq2seq: as many decoder layers as encoder layers unless told; the other kinds have none
    n_dec = (raw["n_dec_layers"] or raw["n_layers"]) if kind == "seq2seq" else 0
    d_pos = resolved_d_pos(doc, raw) if kind != "mlp" else 0
    return ModelConfig(**{k: v for k, v in raw.items()
                          if k not in ("max_len", "sizes", "n_dec_layers", "d_pos", "residual")},
                       max_len=_max_len(doc, raw, values), sizes=sizes, n_dec_layers=n_dec, d_pos=d_pos,
                       residual=_residual(doc, raw["residual"], raw["ffn"]))
def _residual(doc: Located, given, ffn: bool) -> tuple[str, ...]:
    """`residual:` as the sublayers that keep their skip path: true → both, false → none, or the list."""
    if isinstance(given, bool):
        return SUBLAYERS if given else ()
    seen: list[str] = []
    for i, name in enumerate(given):
        path = (*M, "residual", i)
        if isinstance(name, list | dict) or name not in SUBLAYERS:
            hint = (did_you_mean(str(name), SUBLAYERS, what="list the sublayers that keep it; use one of")
                    if not isinstance(name, list | dict) else " — list the sublayers by name: `attention`, `ffn`")
            what = f"`{name}`" if isinstance(name, str) else got(doc, path, name)
            raise doc.error(path, f"{what} is not a sublayer with a residual{hint}")
        if name in seen:
            raise doc.error(path, f"`{name}` is listed twice in `residual` — keep one")
        if name == "ffn" and not ffn:
            raise doc.error(path, "`ffn: false` leaves the blocks no FFN, so there is no FFN residual to keep — "
                                  "write `residual: [attention]` (or `false`), or remove `ffn: false`")
        seen.append(name)
    return tuple(s for s in SUBLAYERS if s in seen)  # in the order the block runs them


def _max_len(doc: Located, raw: dict, values: dict) -> int:
    """Given, or the rows of an explicit embed.pos, or 8."""
    if raw["max_len"] is not None:
        return raw["max_len"]
    given = values.get("embed.pos")
    if isinstance(given, list) and 1 <= len(given) <= MAX_LEN:
        return len(given)
    return DEFAULT_MAX_LEN


def task_config(doc: Located, model: ModelConfig, raw: dict, tokens: list[str],
                batch: int | None = None) -> TaskConfig:
    """`batch`: the number of examples when an mlp's features are a batch, else None."""
    kind = task_kind(doc, model, raw)
    if model.tie_embeddings and kind != VOCAB_TASKS[model.kind]:
        raise doc.error((*M, "tie_embeddings"), "tied embeddings score every vocabulary entry, so they need "
                                                f"`task.kind: {VOCAB_TASKS[model.kind]}` (this task is `{kind}`) — "
                                                "remove `tie_embeddings`")
    for key, owner in TASK_KEYS.items():
        if raw[key] is not None and kind == "seq2seq":
            raise doc.error((*T, key), f"`{key}` is for `task.kind: {owner}`; a seq2seq's answer is its target "
                                       "sequence, `input.target` (or `target_text`) — remove `task."
                                       f"{key}`", key=True)
        if raw[key] is not None and kind != owner:
            raise doc.error((*T, key), f"`{key}` is for `task.kind: {owner}`, but this task is `{kind}` — "
                                       f"remove `{key}`, or set `task.kind: {owner}`", key=True)
    if kind == "seq2seq":  # its sequences were checked with the input (pairs.py)
        return TaskConfig(kind="seq2seq")
    if kind == "next_token":
        return _next_token(doc, model, tokens)
    if kind == "regress":
        return _regress(doc, model, raw["target"], batch)
    return _classify(doc, model, raw, batch)


def task_kind(doc: Located, model: ModelConfig, raw: dict) -> str:
    """The task's kind, given or the model's default, checked against the model."""
    kind = raw["kind"] or DEFAULT_TASK[model.kind]
    _compatible(doc, model.kind, kind)
    return kind


def _compatible(doc: Located, model_kind: str, kind: str) -> None:
    """Checked before the task's other keys: a wrong kind is the likelier mistake than a wrong key."""
    if (kind == "seq2seq") != (model_kind == "seq2seq"):
        raise doc.error((*T, "kind"), f"`{kind}` is not a task of `model.kind: {model_kind}` — a seq2seq model does "
                                      "`task.kind: seq2seq` (the decoder predicts the target from the source), and "
                                      "only a seq2seq model does; remove `task.kind`, or change `model.kind`")
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


def _regress(doc: Located, model: ModelConfig, target, batch: int | None) -> TaskConfig:
    if target is None:
        eg, label = ("[0.5]", "label") if batch is None else ("[0, 1, 1, 0] (one per example)", "labels")
        raise doc.error(T, f"regress needs `task.target:`, the value(s) to fit — add e.g. `target: {eg}` "
                           f"(or set `task.kind: classify` with `classes:` and `{label}:`)")
    path, out = (*T, "target"), model.sizes[-1]
    target = [target] if isinstance(target, float) else target  # `target: 0.5` for a single output
    nested = any(isinstance(t, list) for t in target)
    if batch is not None:
        return TaskConfig(kind="regress", target=_batch_target(doc, path, target, out, batch, nested))
    if nested:
        raise doc.error(path, f"`target` has rows, one per example, but `features` is a single example — give "
                              f"{plural(out, 'number')}, e.g. `target: {_eg(out)}`, or make `features` a list "
                              "of examples too")
    if len(target) != out:
        raise doc.error(path, f"`target` has {plural(len(target), 'number')} but the mlp has "
                              f"{plural(out, 'output')} (the last of `sizes`) — give {out}, or change `sizes`")
    return TaskConfig(kind="regress", target=numbers(doc, path, target, "a target number"))


def _batch_target(doc: Located, path: tuple, target: list, out: int, batch: int,
                  nested: bool) -> tuple[tuple[float, ...], ...]:
    """[B, n_out]; a flat list of B numbers is read as B rows of one when the mlp has one output."""
    if not nested:
        if out != 1:
            raise doc.error(path, f"`target` is one flat list, but the mlp has {out} outputs — give one row "
                                  f"of {out} numbers per example, e.g. `target: [{_eg(out)}, …]`")
        if len(target) != batch:
            raise doc.error(path, f"`target` has {plural(len(target), 'number')} but `features` has {batch} "
                                  f"examples — give one target per example")
        return tuple((v,) for v in numbers(doc, path, target, "a target number"))
    if len(target) != batch:
        raise doc.error(path, f"`target` has {plural(len(target), 'row')} but `features` has {batch} examples — "
                              "give one row per example")
    rows = []
    for i, row in enumerate(target):
        if not isinstance(row, list):
            raise doc.error((*path, i), f"row {i} of `target` is {got(doc, (*path, i), row)}, not a list — "
                                        f"give every example a row of {plural(out, 'number')}, e.g. {_eg(out)}")
        if len(row) != out:
            raise doc.error((*path, i), f"row {i} of `target` has {plural(len(row), 'number')} but the mlp has "
                                        f"{plural(out, 'output')} (the last of `sizes`) — give {out} per row, or "
                                        "change `sizes`")
        rows.append(numbers(doc, (*path, i), row, "a target number"))
    return tuple(rows)


def _eg(n: int) -> str:
    return "[" + ", ".join(["0.5"] * min(n, 4)) + (", …" if n > 4 else "") + "]"


def _classify(doc: Located, model: ModelConfig, raw: dict, batch: int | None) -> TaskConfig:
    classes = class_names(doc, model, raw)
    if batch is not None:
        return _batch_labels(doc, raw, classes, batch)
    if raw["labels"] is not None:
        raise doc.error((*T, "labels"), "`labels` gives the class of each example of a batch, but `features` is "
                                        "a single example — write `label: NAME`, or make `features` a list of "
                                        "examples", key=True)
    label = raw["label"]
    if label is None:
        raise doc.error(T, f"classify needs `task.label:`, the true class, e.g. `label: {classes[-1]}`")
    check_label(doc, (*T, "label"), label, classes, "label")
    return TaskConfig(kind="classify", classes=tuple(classes), label=label)


def class_names(doc: Located, model: ModelConfig, raw: dict) -> list[str]:
    """`task.classes`, checked: at least two, distinct, as many as an mlp has outputs."""
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
    return classes


def _batch_labels(doc: Located, raw: dict, classes: list[str], batch: int) -> TaskConfig:
    eg = ", ".join(classes[i % len(classes)] for i in range(min(batch, 4))) + (", …" if batch > 4 else "")
    if raw["label"] is not None:
        raise doc.error((*T, "label"), f"`features` holds {batch} examples, so each needs its own class — replace "
                                       f"`label:` with `labels: [{eg}]`, one per example", key=True)
    labels = raw["labels"]
    if labels is None:
        raise doc.error(T, f"classify on a batch of {batch} examples needs `task.labels:`, the true class of "
                           f"each — add e.g. `labels: [{eg}]`")
    path = (*T, "labels")
    labels = words(doc, path, labels, "label")
    if len(labels) != batch:
        raise doc.error(path, f"`labels` has {plural(len(labels), 'name')} but `features` has {batch} examples "
                              "— give one class per example")
    for i, label in enumerate(labels):
        check_label(doc, (*path, i), label, classes, f"label {i}")
    return TaskConfig(kind="classify", classes=tuple(classes), labels=tuple(labels))


def check_label(doc: Located, path: tuple, label: str, classes: list[str], what: str) -> None:
    if label in classes:
        return
    given = _given(doc, path)
    if isinstance(given, int) and not isinstance(given, bool) and 0 <= given < len(classes):
        if what == "label":
            raise doc.error(path, f"`label: {label}` looks like an index — give the class by name: "
                                  f"`label: {classes[given]}`")
        raise doc.error(path, f"{what} (`{label}`) looks like an index — give the class by name: "
                              f"`{classes[given]}`")
    raise doc.error(path, f"{what} `{label}` is not one of the classes"
                    + did_you_mean(label, classes, what="use one of"))


def _given(doc: Located, path: tuple):
    """The value at `path` as YAML typed it (before we kept its text)."""
    value = doc.value
    for p in path:
        if isinstance(value, dict):
            value = value.get(p)
        elif isinstance(value, list) and isinstance(p, int) and p < len(value):
            value = value[p]
        else:
            return None
    return value
