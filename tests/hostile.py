"""Hostile scenario files for the corpus tests: escape sequences in every string a scenario has."""

from __future__ import annotations

# each as YAML double-quoted text writes it: the character reaches stepper only once YAML has read it
PAYLOADS = {
    "osc-title": r"\e]0;PWNED\a", "osc52-clipboard": r"\e]52;c;aGk=\a", "clear": r"\e[2J\e[H",
    "c1-csi": r"\x9b2J", "cr-forged-line": r"\r  ✓ all verified", "backspace": r"\b\b\b", "del": r"\x7f",
    "bidi-override": r"\u202e", "nul": r"\0", "nel": r"\x85", "colour": r"\e[31m", "bell": r"\a",
    "newline-forged-line": r"\nscenarios/mini.yaml: ✓ forged", "vertical-tab": r"\v\f",
}
EVERYTHING = "".join(PAYLOADS.values())  # all at once

_ENCODER = """name: {name}
title: "{title}"
description: "{description}"
model: {{kind: {kind}, d_model: 4, n_heads: 1, n_layers: 1, d_ff: 8}}
input:
  vocab: ["<pad>", "I{token}", "am"]
  tokens: ["I{token}", "{first_token}"]
task: {{kind: classify, classes: ["neg{cls}", "pos"], label: "neg{cls}"}}
weights: {{seed: 0, init: {{std: 0.5}}}}
lessons:
  fwd.embed: "L{lesson}"
  "{pattern}": a lesson for a step this model has not
quiz:
  - {{step: fwd.embed, ask: "Q{ask}?", answer: "{answer}", why: "W{why}"}}
{extra}"""

_DECODER = """name: dec
title: "gen"
model: {{kind: decoder, d_model: 4, n_heads: 1, n_layers: 1, d_ff: 8, max_len: 8}}
input: {{vocab: ["<pad>", "a{p}", "b{p}", "c"], tokens: ["a{p}", "b{p}", "c"]}}
task: {{kind: next_token}}
weights: {{seed: 0, init: {{std: 0.5}}}}
generate: {{max_new_tokens: 3, temperature: 0.8, seed: 1}}
"""

# the fields of the encoder scenario; some make the file invalid, so that the error quotes the payload
FIELDS = ("title", "description", "token", "cls", "lesson", "pattern", "ask", "answer", "why",
          "name", "kind", "first_token", "extra")


def encoder(field: str, payload: str) -> str:
    values = {f: "" for f in FIELDS} | {"name": "hostile", "kind": "encoder", "first_token": "am",
                                       "pattern": "fwd.nothing", "answer": "1"}
    if field in ("name", "kind", "first_token"):  # invalid: the error message quotes it
        values[field] = {"name": f'"x{payload}"', "kind": f'"enc{payload}"', "first_token": f"am{payload}"}[field]
    elif field == "pattern":
        values["pattern"] = f"fwd.x{payload}"
    elif field == "extra":
        values["extra"] = f'"unknown{payload}": 1\n'
    else:
        values[field] = payload
    return _ENCODER.format(**values)


def decoder(payload: str) -> str:
    return _DECODER.format(p=payload)
