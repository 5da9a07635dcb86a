"""Every key a scenario may hold: its type, default, allowed values and range.

One table serves the loader, the error messages (allowed values, did-you-mean) and the
documentation test that keeps docs/scenario-format.md complete.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: object = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    required: bool = False
    doc: str = ""


TOP = {
    "name": Key(str, required=True, doc="identifier, letters a-z, digits, `_` and `-`"),
    "title": Key(str, "", doc="one line for humans"),
    "description": Key(str, "", doc="a paragraph shown above the trace"),
    "model": Key(dict, required=True, doc="the architecture"),
    "input": Key(dict, {}, doc="vocabulary and tokens (or `features` for an mlp)"),
    "task": Key(dict, {}, doc="what the loss measures"),
    "weights": Key(dict, {}, doc="seed, init and explicit values"),
    "lessons": Key(dict, {}, doc="text per step id pattern"),
}

MODEL = {
    "kind": Key(str, "encoder", ("encoder", "decoder", "mlp"), doc="decoder = causal self-attention"),
    "d_model": Key(int, 4, low=1, high=4096, doc="width of every token vector"),
    "n_heads": Key(int, 1, low=1, high=64, doc="attention heads; must divide d_model"),
    "n_layers": Key(int, 1, low=1, high=48, doc="transformer blocks"),
    "d_ff": Key(int, 16, low=1, high=16384, doc="hidden width of the feed-forward network"),
    "activation": Key(str, "gelu", ("relu", "gelu", "gelu_tanh", "none"),
                      doc="FFN non-linearity (`none` only for mlp)"),
    "norm": Key(str, "post", ("post", "pre", "none"), doc="where LayerNorm sits"),
    "final_norm": Key(bool, False, doc="a last LayerNorm (ln_f) before the head"),
    "norm_eps": Key(float, 1e-5, low=0.0, high=1.0, doc="LayerNorm epsilon"),
    "positional": Key(str, "sinusoidal", ("sinusoidal", "learned", "none"), doc="position information"),
    "max_len": Key(int, None, low=1, high=4096, doc="rows of embed.pos (learned positions)"),
    "bias": Key(bool, True, doc="biases in attention and FFN linears"),
    "head_bias": Key(bool, True, doc="bias of the output head"),
    "tie_embeddings": Key(bool, False, doc="logits = h · embed.tokᵀ"),
    "pooling": Key(str, "mean", ("mean", "first", "last"), doc="encoder classification pooling"),
    "attention_scale": Key(bool, True, doc="divide scores by √d_k"),
    "sizes": Key(list, [], doc="mlp: layer widths, input first"),
}

INPUT = {
    "vocab": Key(list, None, doc="token strings; `<pad>` is masked as a key"),
    "tokens": Key(list, None, doc="the sequence, as vocab entries"),
    "text": Key(str, None, doc="alternative to tokens, split by `tokenizer`"),
    "tokenizer": Key(str, "word", ("word", "char"), doc="how `text` is split"),
    "features": Key(list, None, doc="mlp: the input vector"),
}

TASK = {
    "kind": Key(str, None, ("classify", "next_token", "regress"), doc="the loss"),
    "classes": Key(list, None, doc="classify: class names"),
    "label": Key((str, int), None, doc="classify: the true class, by name"),
    "target": Key((list, float, int), None, doc="regress: the target vector"),
}

WEIGHTS = {
    "seed": Key(int, 0, doc="seed for every parameter not given explicitly"),
    "init": Key(dict, {}, doc="`std` for weights, `bias_std` for biases"),
    "values": Key(dict, {}, doc="explicit parameter values by contract name"),
}

INIT = {
    "std": Key(float, 0.5, low=0.0, high=100.0, doc="standard deviation of weight matrices"),
    "bias_std": Key(float, 0.0, low=0.0, high=100.0, doc="standard deviation of biases (0: zeros)"),
}

SECTIONS = {"model": MODEL, "input": INPUT, "task": TASK, "weights": WEIGHTS}
