"""The parameter table and the count formula with the scenario's own numbers plugged in.

The table lists the trace's actual arrays; the formula is derived from the config alone. They are
two independent routes to the same total, which is what makes the formula worth showing (and testing).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from stepper.export.md_tables import code
from stepper.present.labels import shape_text

ROLES = {
    "embed.tok": "token embedding table, one row per vocabulary entry",
    "embed.pos": "learned position table, one row per position",
    "W_Q": "query projection", "W_K": "key projection", "W_V": "value projection",
    "W_O": "output projection, mixes the heads",
    "b_Q": "query bias", "b_K": "key bias", "b_V": "value bias", "b_O": "output bias",
    "ln1.gamma": "LayerNorm 1 scale γ", "ln1.beta": "LayerNorm 1 shift β",
    "ln2.gamma": "LayerNorm 2 scale γ", "ln2.beta": "LayerNorm 2 shift β",
    "W_1": "FFN expansion d → d_ff", "b_1": "FFN hidden bias",
    "W_2": "FFN projection d_ff → d", "b_2": "FFN output bias",
    "ln_f.gamma": "final LayerNorm scale γ", "ln_f.beta": "final LayerNorm shift β",
    "head.W": "output head", "head.b": "output head bias",
}


class Term(NamedTuple):
    symbol: str  # `4·d²`
    plugged: str  # `4·4²`
    value: int


def _role(name: str) -> str:
    for key, role in ROLES.items():
        if name == key or name.endswith("." + key):
            return role
    mlp = re.fullmatch(r"layers\.(\d+)\.([Wb])", name)
    if mlp:
        return f"layer {mlp[1]} " + ("weights" if mlp[2] == "W" else "bias")
    return ""


def layer_groups(m: dict) -> list[tuple[str, list[Term]]]:
    """The terms of one transformer layer, grouped the way the layer is built."""
    d, f = m["d_model"], m["d_ff"]
    attn = [Term("4·d²", f"4·{d}²", 4 * d * d)]
    ffn = [Term("2·d·d_ff", f"2·{d}·{f}", 2 * d * f)]
    if m.get("bias"):
        attn.append(Term("4·d", f"4·{d}", 4 * d))
        ffn += [Term("d_ff", str(f), f), Term("d", str(d), d)]
    groups = [("attention", attn), ("FFN", ffn)]
    if m.get("norm") != "none":
        groups.append(("2 LayerNorms", [Term("4·d", f"4·{d}", 4 * d)]))
    return groups


def model_groups(config: dict, n_out: int) -> list[tuple[str, list[Term]]]:
    m = config["model"]
    if m["kind"] == "mlp":
        groups = []
        for i, (a, b) in enumerate(zip(m["sizes"][:-1], m["sizes"][1:], strict=True)):
            terms = [Term(f"n{i}·n{i + 1}", f"{a}·{b}", a * b)]
            if m.get("bias"):
                terms.append(Term(f"n{i + 1}", str(b), b))
            groups.append((f"layer {i}", terms))
        return groups
    d, n_layers, per_layer = m["d_model"], m["n_layers"], _total(layer_groups(m))
    n_vocab, d_tok = len(config["vocab"]), d - m.get("d_pos", 0)  # concat: the sinusoids' d_pos columns are fixed
    table = Term("V·(d − d_pos)", f"{n_vocab}·{d_tok}", n_vocab * d_tok) if m["positional"] == "concat" else \
        Term("V·d", f"{n_vocab}·{d}", n_vocab * d)
    groups = [("token embeddings", [table])]
    if m["positional"] == "learned":
        groups.append(("positions", [Term("max_len·d", f"{m['max_len']}·{d}", m["max_len"] * d)]))
    groups.append(("layers", [Term("n_layers·(per layer)", f"{n_layers}·{per_layer}", n_layers * per_layer)]))
    if m.get("final_norm"):
        groups.append(("final LayerNorm", [Term("2·d", f"2·{d}", 2 * d)]))
    if not m.get("tie_embeddings"):
        head = [Term("d·n_out", f"{d}·{n_out}", d * n_out)]
        if m.get("head_bias"):
            head.append(Term("n_out", str(n_out), n_out))
        groups.append(("head", head))
    return groups


def _total(groups) -> int:
    return sum(t.value for _, terms in groups for t in terms)


def formula(groups) -> str:
    """`4·d² + 4·d (attention) + … = 4·4² + 4·4 + … = 64 + 16 + … = N`."""
    symbolic = " + ".join(" + ".join(t.symbol for t in terms) + f" ({label})" for label, terms in groups)
    terms = [t for _, ts in groups for t in ts]
    chain = [symbolic, " + ".join(t.plugged for t in terms)]
    values = " + ".join(str(t.value) for t in terms)
    if values != chain[-1]:
        chain.append(values)
    if len(terms) > 1 or chain[-1] != str(_total(groups)):
        chain.append(str(_total(groups)))
    return " = ".join(chain)


def n_outputs(config: dict) -> int:
    task = config.get("task", {})
    if task.get("kind") == "next_token":
        return len(config["vocab"])
    if task.get("kind") == "regress":
        return (config["model"].get("sizes") or [1])[-1]
    return len(task.get("classes") or [])


def param_section(trace) -> str:
    lines = ["## Parameters", "", "Every number the model can learn, in the order the model uses it.", "",
             "| parameter | shape | count | role |", "|:---|:---|---:|:---|"]
    total = 0
    for name, value in trace.params.items():
        n = int(np.prod(np.shape(value), dtype=np.int64))
        total += n
        lines.append(f"| {code(name)} | {shape_text(np.shape(value))} | {n:,} | {_role(name)} |")
    lines += [f"| **total** | | **{total:,}** | |", ""]
    config, m = trace.config, trace.config["model"]
    n_out = n_outputs(config)
    if m["kind"] == "mlp":
        lines.append(f"- Whole model: {formula(model_groups(config, n_out))}")
    else:
        beside = f", d_pos = {m['d_pos']} concatenated position columns" if m["positional"] == "concat" else ""
        lines += [f"With d = d_model = {m['d_model']}, d_ff = {m['d_ff']}{beside}, V = {len(config['vocab'])} "
                  f"vocabulary entries and n_out = {n_out} outputs:", "",
                  f"- Each layer: {formula(layer_groups(m))}",
                  f"- Whole model: {formula(model_groups(config, n_out))}"]
    shown = _total(model_groups(config, n_out))
    if shown != total:  # the formula and the arrays disagree: say so rather than print a wrong sum
        lines.append(f"- The formula gives {shown:,} but the arrays hold {total:,}.")
    return "\n".join(lines)


def layer_count(m: dict) -> int:
    return _total(layer_groups(m))

