"""Scenario file → typed Scenario, or a ScenarioError that points at the offending spot.

The order of checks is the order a learner reads the file: the file itself, YAML syntax,
the keys of each section, then the rules between keys (model, input, task), the size
limit, and last the explicit weights, whose shapes depend on everything before them.
"""

from __future__ import annotations

import re
from pathlib import Path

from stepper.readfile import Refused, read_regular
from stepper.scenario import schema
from stepper.scenario.config import model_config, task_config
from stepper.scenario.data import model_inputs
from stepper.scenario.errors import MAX_BYTES, ScenarioError, show
from stepper.scenario.fields import section, typed
from stepper.scenario.generation import generate_config, not_a_decoder, with_generation
from stepper.scenario.inputs import check_length
from stepper.scenario.limits import over_limit, training_over_limit
from stepper.scenario.optim import optim_config
from stepper.scenario.params import n_outputs, param_specs
from stepper.scenario.quiz import PHASES, quiz, quiz_items
from stepper.scenario.types import Scenario
from stepper.scenario.weights import make_params
from stepper.scenario.yamlread import Located, read_yaml

NAME = re.compile(r"[a-z0-9_-]{1,64}")
SCRATCH = "x-"


# what to do about each reason read_regular refuses a file for
_HINTS = {
    "missing": "check the path (`stepper new NAME` writes a starter)",
    "directory": "give a .yaml scenario file inside it",
    "special": "give a .yaml scenario file",
    "large": "is it the right file?",
}


def load_scenario(path: str | Path, *, force: bool = False, generation: dict | None = None) -> Scenario:
    """The scenario in the file at `path` (ScenarioError on any problem); the one loader, for the
    command line and the app alike. `generation`: the command line's generation flags, over the
    file's `generate:` settings (see `with_generation`)."""
    file = str(path)
    try:
        raw = read_regular(path, limit=MAX_BYTES)
    except Refused as exc:
        if exc.kind == "os":
            message = f"cannot read the file: {exc} — check the path and its permissions"
        elif exc.kind == "large":
            message = f"the file is over the {MAX_BYTES // 2**20} MiB a scenario may be — {_HINTS['large']}"
        else:
            message = f"{exc} — {_HINTS[exc.kind]}"
        raise ScenarioError(file, 1, 1, message) from None
    scenario = parse_scenario(decode(raw, file), file, force=force)
    return with_generation(scenario, **generation) if generation else scenario


def decode(raw: bytes, file: str) -> str:
    """Bytes → text, refusing binary files and other encodings at the line they go wrong."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16's byte-order marks; its text is full of NULs
        raise ScenarioError(file, 1, 1, "this file is saved as UTF-16 — save it as UTF-8")
    if b"\0" in raw:
        line, col = _line_col(raw, raw.index(b"\0"))
        raise ScenarioError(file, line, col, "this is a binary file (it holds NUL bytes), not a YAML "
                                             "scenario — give a .yaml text file")
    try:
        return raw.decode("utf-8-sig")  # -sig: drop the byte-order mark some editors write
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise ScenarioError(file, line, col, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} here) — save the "
                                             "file as UTF-8") from None


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters, as an editor counts them) of a byte offset."""
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", errors="replace")) + 1


def parse_scenario(text: str, file: str = "<scenario>", *, force: bool = False) -> Scenario:
    doc = read_yaml(text, file)
    if not isinstance(doc.value, dict):
        raise doc.error((), f"the top level must be a mapping of keys like `name:` and `model:`, got "
                            f"{show(doc.value)} — start from `stepper new NAME`")
    # top-level `x-…` keys are the learner's own, e.g. to hold an anchor (`x-base: &base {…}`)
    top = section(doc, (), {k: v for k, v in doc.value.items() if not k.startswith(SCRATCH)}, schema.TOP)
    if not NAME.fullmatch(top["name"]):
        slug = re.sub(r"[^a-z0-9_-]+", "-", top["name"].lower()).strip("-")[:64] or "my-model"
        raise doc.error(("name",), f"name `{top['name']}` may use only a-z, 0-9, `_` and `-` (at most 64) "
                                   f"— e.g. `name: {slug}`")
    # which keys apply depends on the kind, so read it first
    given = top["model"].get("kind")
    kind = typed(doc, ("model", "kind"), "kind", given, schema.MODEL["kind"]) if given is not None else "encoder"
    _top_keys_for(doc, kind)
    model_raw = section(doc, ("model",), top["model"], schema.MODEL, kind)
    input_raw = section(doc, ("input",), top["input"], schema.INPUT, kind)
    task_raw = section(doc, ("task",), top["task"], schema.TASK, kind)
    weights_raw = section(doc, ("weights",), top["weights"], schema.WEIGHTS)
    init_raw = section(doc, ("weights", "init"), weights_raw["init"], schema.INIT)
    values = weights_raw["values"]
    lessons = _lessons(doc, top["lessons"])
    optim_raw = _optim_section(doc, top["optim"])
    generate_raw = None if top["generate"] is None else section(doc, ("generate",), top["generate"],
                                                                schema.GENERATE)
    quiz_raw = quiz_items(doc, top["quiz"])

    model = model_config(doc, model_raw, values)
    if top["data"] is not None and optim_raw is None:
        raise doc.error(("data",), "`data:` is a training set, and without `optim:` nothing trains on it — add "
                                   "`optim:` (e.g. `optim: {kind: adamw, lr: 0.01, epochs: 10}`), or remove `data:`",
                        key=True)
    inputs = model_inputs(doc, model, input_raw, task_raw, top["data"])
    vocab, tokens, feats = inputs.vocab, inputs.tokens, inputs.features
    batch = len(feats) if feats and isinstance(feats[0], tuple) else None
    task = task_config(doc, model, inputs.task_raw, tokens, batch)
    check_length(doc, model, task, tokens)
    generate = None if generate_raw is None else generate_config(doc, generate_raw, model, task, tokens)

    # what the model reads at its longest: the tokens (and what generation appends), or the examples
    n_rows = (batch or 1) if model.kind == "mlp" else len(tokens) + (generate.max_new_tokens - 1 if generate else 0)
    if model.kind == "seq2seq":  # the decoder reads the target but its last, or what generation feeds back
        n_rows = max(len(tokens) - 1, generate.max_new_tokens if generate else 0)
    n_source = len(inputs.source)
    too_big = over_limit(model, len(vocab), task.kind, len(task.classes), n_rows, n_source=n_source)
    if too_big and not force:
        message, blame = too_big
        raise doc.error(next((p for p in blame if doc.has(p)), ("model",)), message)
    n_out = n_outputs(model, task.kind, len(task.classes), len(vocab))
    specs = param_specs(model, len(vocab), n_out)
    params = make_params(doc, model, specs, values, weights_raw["seed"], init_raw)
    optim = None if optim_raw is None else optim_config(doc, optim_raw, specs, model, inputs.data)
    if optim is not None and not force:
        _training_limit(doc, model, (len(vocab), n_out), optim, inputs.data, (n_rows, n_source))
    quiz_ = quiz(doc, quiz_raw, {k for k in ("optim", "generate") if top[k] is not None})
    return Scenario(name=top["name"], model=model, task=task, vocab=vocab, tokens=tokens, params=params,
                    title=top["title"], description=top["description"], lessons=lessons,
                    features=feats, source=file, optim=optim, data=inputs.data, generate=generate, quiz=quiz_,
                    source_tokens=list(inputs.source), bpe=inputs.bpe, marks=_marks(doc))


def _training_limit(doc: Located, model, sizes: tuple[int, int], optim, data, n_rows: tuple[int, int]) -> None:
    """Refused up front when the whole training run is too big. `sizes`: (vocab, outputs); `n_rows`: the
    traced example's rows (an mlp: its batch), which is the data set when there is no `data:`, and its
    source's (a seq2seq's encoder)."""
    (n_rows, n_source), every = n_rows, () if data is None else data.examples + data.validation
    if data is None:
        rows, batch = (1, n_rows) if model.kind == "mlp" else (n_rows, 1)
    else:
        rows, batch = max(len(ex.tokens) for ex in every) or 1, data.batch_size
        n_source = max(len(ex.source) for ex in every)
    too_big = training_over_limit(model, *sizes, rows, batch, optim.steps, n_source=n_source)
    if too_big:
        message, blame = too_big
        raise doc.error(next(p for p in blame if doc.has(p) or p == ("optim",)), message)


def _top_keys_for(doc: Located, kind: str) -> None:
    """A top-level section that means something for one kind of model only (`generate`: decoders)."""
    for key, spec in schema.TOP.items():
        if spec.only and kind not in spec.only and key in doc.value:
            raise doc.error((key,), f"`{key}` does not apply to `model.kind: {kind}` — "
                                    f"{not_a_decoder(kind)}; remove `{key}`", key=True)


def _optim_section(doc: Located, raw) -> dict | None:
    """Its kind first: which other keys apply depends on it."""
    if raw is None:
        return None
    given = raw.get("kind")
    spec = schema.OPTIM["kind"]
    kind = typed(doc, ("optim", "kind"), "kind", given, spec) if given is not None else spec.default
    return section(doc, ("optim",), raw, schema.OPTIM, kind)


def _marks(doc: Located) -> dict[str, tuple[int, int]]:
    """Where the sections and their keys stand, for errors found once the file is loaded."""
    marks = {".".join(map(str, p)): mark for p, mark in doc.key_marks.items() if 1 <= len(p) <= 2}
    # a quiz question's step is checked against the built trace (see step_names)
    marks.update({f"quiz.{p[1]}.step": mark for p, mark in doc.marks.items()
                  if len(p) == 3 and p[0] == "quiz" and p[2] == "step"})
    return marks


def _lessons(doc, raw: dict) -> dict[str, str]:
    """`lessons:` maps a step-id pattern (fnmatch, e.g. `fwd.L0.attn.*`) to a text."""
    out = {}
    for pattern, text in raw.items():
        if pattern.split(".", 1)[0] not in PHASES and not (pattern and pattern[0] in "*?["):
            raise doc.error(("lessons", pattern), f"the lesson pattern `{pattern}` can match no step: step ids "
                                                  "start with `fwd.`, `bwd.`, `upd.` or `gen.` — e.g. `fwd.embed` or "
                                                  "`fwd.*.softmax`", key=True)
        if text is None or isinstance(text, list | dict):
            raise doc.error(("lessons", pattern), f"the lesson for `{pattern}` must be text, got {show(text)} — "
                                                  "write `pattern: some text` (use `|` for several lines)")
        out[pattern] = doc.raw.get(("lessons", pattern), str(text))
    return out
