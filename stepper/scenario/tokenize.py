"""How a scenario's text becomes tokens: at spaces (`word`), per character (`char`), or in learned pieces (`bpe`).

One `Tokenizer` splits every text of a scenario — `input.text` (a seq2seq's `source_text` and `target_text`) and
every example's — so the three readers (inputs.py, pairs.py, data.py) split alike. `word` and `char` need
nothing but the text; `bpe` is learned first, on the training texts (see `tokenizer_for`), with the Hugging
Face `tokenizers` library, which is imported only then (stepper/scenario/bpe.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepper.scenario import schema
from stepper.scenario.fields import section
from stepper.scenario.yamlread import Located

if TYPE_CHECKING:
    from stepper.scenario.bpe import LearnedBpe

IN = ("input",)
TEXT_KEYS = ("text", "source_text", "target_text")


@dataclass(frozen=True)
class Tokenizer:
    kind: str = "word"  # word | char | bpe
    bpe: LearnedBpe | None = None  # bpe: what it learned, as plain data
    pieces: Callable[[str], list[str]] | None = None  # bpe: the learned tokenizer, splitting a text

    def split(self, text: str) -> list[str]:
        if self.kind == "char":
            return list(text)
        if self.kind == "bpe":
            return self.pieces(text)
        return text.split()


WORD, CHAR = Tokenizer("word"), Tokenizer("char")


def tokenizer_for(doc: Located, input_raw: dict, data_raw, specials: tuple[str, ...]) -> Tokenizer:
    """`input.tokenizer` (with `input.bpe`), checked. A bpe is learned on the training texts — `input`'s and
    `data.examples`' — and never on `data.validation`: held-out text is split with what training learned, so a
    character it never saw becomes `<unk>` there, as it would for a real tokenizer. `specials`: the special
    tokens the vocab starts with (`<pad>`, a seq2seq's `<bos>` and `<eos>`), which no merge crosses."""
    kind = input_raw["tokenizer"]
    if kind != "bpe":
        if input_raw["bpe"] is not None:
            raise doc.error((*IN, "bpe"), f"`bpe:` sets up `tokenizer: bpe`, and the tokenizer is `{kind}` — set "
                                          "`tokenizer: bpe`, or remove `bpe:`", key=True)
        return CHAR if kind == "char" else WORD
    if input_raw["bpe"] is None:
        raise doc.error((*IN, "tokenizer"), "`tokenizer: bpe` learns its pieces up to a vocabulary size — add "
                                            "`bpe: {vocab_size: 30}` under `input:`")
    if input_raw["vocab"] is not None:
        raise doc.error((*IN, "vocab"), "`tokenizer: bpe` makes the vocab (the special tokens, the characters, then "
                                        "one piece per merge) — delete `vocab:`", key=True)
    settings = section(doc, (*IN, "bpe"), input_raw["bpe"], schema.BPE)
    texts = training_texts(doc, input_raw, data_raw)
    if not texts:  # `tokens:` lists only: nothing to learn from, and nothing to split
        raise doc.error((*IN, "tokenizer"), "`tokenizer: bpe` learns from `text:`, and there is none — add "
                                            "`text:` (or examples written as `text:`), or remove `tokenizer`",
                        key=True)
    from stepper.scenario.bpe import alphabet, learn_bpe

    least = len(specials) + 1 + len(alphabet(texts, specials))  # + 1: `<unk>`
    if settings["vocab_size"] < least:
        raise doc.error((*IN, "bpe", "vocab_size"), f"`vocab_size: {settings['vocab_size']}` cannot hold the "
                                                    f"{least} entries BPE starts from (the special tokens, `<unk>` "
                                                    "and every character of the training text, `▁` included) — "
                                                    f"use {least} or more; each entry above that is one merge")
    return Tokenizer("bpe", *learn_bpe(texts, settings["vocab_size"], settings["min_frequency"], specials))


def training_texts(doc: Located, input_raw: dict, data_raw) -> list[str]:
    """Every text written in `input` and in `data.examples`, as written, in file order (a malformed example is
    left out here: its reader says what is wrong with it)."""
    texts = [input_raw[key] for key in TEXT_KEYS if input_raw.get(key) is not None]
    examples = data_raw.get("examples") if isinstance(data_raw, dict) else None
    for i, example in enumerate(examples if isinstance(examples, list) else ()):
        for key in TEXT_KEYS if isinstance(example, dict) else ():
            value = example.get(key)
            if value is not None and not isinstance(value, list | dict):
                texts.append(doc.raw.get(("data", "examples", i, key), str(value)))
    return texts
