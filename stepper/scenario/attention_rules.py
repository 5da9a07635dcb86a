"""The rules of `attention: cosine`'s two companions: the temperature belongs to cosine attention alone,
and cosine attention always divides by it (so it cannot be switched off with `attention_scale`)."""

from __future__ import annotations

from stepper.scenario.yamlread import Located

M = ("model",)


def check_attention(doc: Located, raw: dict) -> None:
    temperature = (*M, "attention_temperature")
    if raw["attention"] == "dot" and doc.has(temperature):
        raise doc.error(temperature, "`attention_temperature` is τ of `attention: cosine` — dot-product attention "
                                     "divides by √d_k instead; add `attention: cosine`, or remove "
                                     "`attention_temperature`", key=True)
    if raw["attention"] == "cosine" and not raw["attention_scale"]:
        raise doc.error((*M, "attention_scale"), "`attention: cosine` always divides the cosines by τ "
                                                 "(`attention_temperature`), so `attention_scale: false` does not "
                                                 "apply — remove it (τ = 1 leaves the cosines as they are)", key=True)
