"""Parameter values: seeded for every parameter, then replaced by the ones the file writes out."""

from __future__ import annotations

import re

import numpy as np

from stepper.scenario.errors import ScenarioError, did_you_mean, plural, show
from stepper.scenario.fields import number
from stepper.scenario.params import init_param
from stepper.scenario.types import ModelConfig
from stepper.scenario.yamlread import Located

V = ("weights", "values")

# parameter-name suffix → what its dimensions are called, for "expected [4, 8] (d_model × d_ff)"
_DIMS = [
    (r"embed\.tok", ("vocab", "d_model")), (r"embed\.pos", ("max_len", "d_model")),
    (r".*attn\.W_[QKVO]", ("d_model", "d_model")), (r".*ffn\.W_1", ("d_model", "d_ff")),
    (r".*ffn\.b_1", ("d_ff",)), (r".*ffn\.W_2", ("d_ff", "d_model")), (r"head\.W", ("d_model", "outputs")),
    (r"head\.b", ("outputs",)), (r".*(attn\.b_.|ffn\.b_2|gamma|beta)", ("d_model",)),
]


def make_params(doc: Located, model: ModelConfig, specs: dict, values: dict, seed: int, init: dict) -> dict:
    params = {}
    try:
        for name, (shape, how) in specs.items():
            params[name] = init_param(name, shape, how, seed, init["std"], init["bias_std"])
    except MemoryError:  # only reachable with --force past the size limit
        raise doc.error(("model",), "ran out of memory creating the parameters — make the model smaller") from None
    for name, given in values.items():
        params[name] = explicit(doc, (*V, name), name, given, specs, model)
    return params


def explicit(doc: Located, path: tuple, name: str, given, specs: dict, model: ModelConfig) -> np.ndarray:
    if name not in specs:
        other = _renamed(name, specs)
        hint = f" — did you mean `{other}`?" if other else did_you_mean(name, specs, what="its parameters are")
        raise doc.error(path, f"this model has no parameter `{name}`{hint}", key=True)
    shape = specs[name][0]
    want = f"[{', '.join(map(str, shape))}]" + _dim_names(name, model, shape)
    if not isinstance(given, list):
        raise doc.error(path, f"`{name}` must be a list of numbers of shape {want}, got {show(given)} — "
                              f"{_how(shape)}")
    got = _shape(doc, path, given)
    if got != shape:
        raise doc.error(path, f"`{name}` has the wrong shape: expected {want}, got "
                              f"[{', '.join(map(str, got))}] — {_how(shape)}")
    return np.array(given, dtype=np.float64)


def _renamed(name: str, specs: dict) -> str | None:
    """The parameter of this model that `name` is in another kind of transformer: a seq2seq prefixes its
    stacks (`encoder.`, `decoder.`) and calls a decoder layer's attentions `self_attn` and `cross_attn`."""
    bare = re.sub(r"^(encoder|decoder)\.", "", name)
    tries = [name.replace(".attn.", ".self_attn."), f"encoder.{bare}", f"decoder.{bare}", bare,
             re.sub(r"\.(self|cross)_attn\.", ".attn.", bare)]
    return next((t for t in tries if t in specs and t != name), None)


def _dim_names(name: str, model: ModelConfig, shape: tuple) -> str:
    if model.kind == "mlp":
        i = int(name.split(".")[1])
        names = (f"sizes[{i}]", f"sizes[{i + 1}]")[-len(shape):]
    else:
        names = next((n for rx, n in _DIMS if re.fullmatch(rx, name.split(".", 2)[-1] if "layers" in name
                                                         else name)), None)
    return f" ({' × '.join(names)})" if names and len(names) == len(shape) else ""


def _how(shape: tuple) -> str:
    if len(shape) == 1:
        return f"give {plural(shape[0], 'number')}"
    return f"give {plural(shape[0], 'row')} of {plural(shape[1], 'number')}"


def _shape(doc: Located, path: tuple, value) -> tuple[int, ...]:
    """The shape of nested lists of finite numbers; a ragged row or a non-number is located."""
    if not isinstance(value, list):
        number(doc, path, value)
        return ()
    shapes = [_shape(doc, (*path, i), item) for i, item in enumerate(value)]
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise _ragged(doc, (*path, i), i, s, shapes[0])
    return (len(value), *(shapes[0] if shapes else ()))


def _ragged(doc: Located, path: tuple, i: int, got: tuple, first: tuple) -> ScenarioError:
    def says(s):
        return "is a number" if s == () else f"has {plural(s[0], 'value')}" if len(s) == 1 else \
            f"has shape [{', '.join(map(str, s))}]"

    return doc.error(path, f"ragged rows: row {i} {says(got)} but row 0 {says(first)} — every row needs "
                           "the same length")
