"""`fwd.tokenize`: what `tokenizer: bpe` learned, shown before the pass that reads its pieces.

The pieces were made when the scenario was loaded (stepper/scenario/bpe.py); this step records them: every
merge in the order learned with how often its pair stood side by side then (`tok.merge_count`), and the traced
text as the ids of its pieces (`tok.ids`; a seq2seq's source too, `tok.source_ids`). The reference
(stepper/verify/reference_bpe.py) recounts the pairs and re-splits the text its own way.
"""

from __future__ import annotations

import numpy as np

from stepper.engine.record import Recorder, tensor
from stepper.scenario.bpe import UNK
from stepper.scenario.types import Scenario
from stepper.trace import Formula
from stepper.trace_keys import BPE_COUNTS, BPE_IDS, BPE_SOURCE_IDS

FORMULA = Formula(
    plain="repeat: (a, b) = the most frequent pair of adjacent pieces in the training words; a b → ab, a new piece",
    latex=r"(a, b) = \arg\max_{(a, b)} \mathrm{count}(a\,b),\qquad a\,b \to ab",
    meaning="Byte-pair encoding starts from single characters (▁ marks the start of a word) and merges the pair "
            "seen most often, again and again, until the vocabulary is full. The merges, in order, are the "
            "tokenizer: a text is split into characters and the merges are applied in the same order.",
)


def record_bpe(rec: Recorder, sc: Scenario) -> None:
    bpe = sc.bpe
    first_merged = len(bpe.vocab) - len(bpe.merges)
    # `rank a+b`: short, since the app cuts a row label past 8 characters; the piece made is a and b joined
    rows = [f"{r + 1} {a}+{b}" for r, (a, b) in enumerate(bpe.merges)]
    outputs = {"count": tensor("count", np.array(bpe.counts, dtype=np.float64).reshape(-1, 1), BPE_COUNTS,
                               rows, ["count"])}
    index = {t: i for i, t in enumerate(sc.vocab)}
    if sc.source_tokens:
        outputs["source_ids"] = _ids("source ids", sc.source_tokens, index, BPE_SOURCE_IDS)
    outputs["ids"] = _ids("target ids" if sc.source_tokens else "ids", sc.tokens, index, BPE_IDS)
    text = sc.tokens if not sc.source_tokens else [*sc.source_tokens, "|", *sc.tokens]
    rec.add("fwd.tokenize", "tokenize", f"BPE: {len(bpe.merges)} merges, then the text in {len(text)} pieces",
            FORMULA, {}, outputs,
            bindings={"vocab_size": str(len(bpe.vocab)), "asked": str(bpe.vocab_size),
                      "base": str(first_merged),
                      "characters": str(first_merged - sc.vocab.index(UNK) - 1), "merges": str(len(bpe.merges)),
                      "pieces": " ".join(text), **_held_out(sc),
                      "learned on": f"{len(bpe.texts)} text{'' if len(bpe.texts) == 1 else 's'}"})


def _held_out(sc: Scenario) -> dict[str, str]:
    """The first validation example in pieces: what the tokenizer makes of text it did not learn from."""
    if sc.data is None or not sc.data.validation:
        return {}
    first = sc.data.validation[0]
    return {"validation[0]": " ".join([*first.source, "|", *first.tokens] if first.source else first.tokens)}


def _ids(symbol: str, tokens: list[str], index: dict[str, int], key: str):
    return tensor(symbol, np.array([index[t] for t in tokens], dtype=np.float64), key, None, list(tokens))
