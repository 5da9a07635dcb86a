"""A seq2seq's two sequences: the source the encoder reads and the target the decoder produces.

`input` and every example of `data:` write them alike — `source:` or `source_text:`, and `target:` or
`target_text:` — so one reader and one set of checks serve both, each fault located where it is written.
Source and target share one vocab, since they share `embed.tok`.
"""

from __future__ import annotations

from stepper.scenario.errors import did_you_mean, listing
from stepper.scenario.fields import got, words
from stepper.scenario.inputs import vocab_list
from stepper.scenario.tokenize import WORD, Tokenizer
from stepper.scenario.types import BOS, EOS, PAD, ModelConfig
from stepper.scenario.yamlread import Located

IN = ("input",)
SIDES = ("source", "target")
SPECIALS = (PAD, BOS, EOS)  # a derived vocab starts with these, in this order, then the sorted tokens
EG = {"source": "[I, love, pizza]", "target": '["<bos>", me, gusta, la, pizza, "<eos>"]'}


def where(doc: Located, path: tuple, side: str, j: int | None = None) -> tuple:
    """The spot of one side (or of its token j) under `path`: its list, else its text."""
    if doc.has((*path, side)):
        return (*path, side) if j is None else (*path, side, j)
    return (*path, f"{side}_text")


def side_tokens(doc: Located, path: tuple, raw: dict, side: str, tokenizer: Tokenizer,
                name: str) -> list[str] | None:
    """The tokens of `side` in the mapping at `path` (`input` or an example), or None when it gives neither
    `side:` nor `side_text:`."""
    text_key = f"{side}_text"
    if raw[side] is not None and raw[text_key] is not None:
        raise doc.error((*path, text_key), f"{name} gives `{side}:` and `{text_key}:` — delete one", key=True)
    if raw[side] is not None:
        if not isinstance(raw[side], list):  # an example's `target` may also be an mlp's number
            raise doc.error((*path, side), f"the {side} of {name} is {got(doc, (*path, side), raw[side])}, not a "
                                           f"list of tokens — write e.g. `{side}: {EG[side]}`")
        tokens = words(doc, (*path, side), raw[side], "token")
    elif raw[text_key] is not None:
        tokens = tokenizer.split(raw[text_key])
    else:
        return None
    if not tokens:
        raise doc.error(where(doc, path, side), f"the {side} of {name} is empty — give at least one token, "
                                                f"e.g. `{side}: {EG[side]}`")
    return tokens


def pair_inputs(doc: Located, model: ModelConfig, raw: dict, examples: list | None = None,
                texts: bool = False, tokenizer: Tokenizer = WORD) -> tuple[list[str], list[str], list[str]]:
    """(vocab, source, target) of `input`. `examples`: the (source, target) of every example of `data:`
    (None without it): a derived vocab holds their tokens too, and `input` may then give neither sequence
    (both [] — the first example is traced). `texts`: some example is written as text."""
    has_text = raw["source_text"] is not None or raw["target_text"] is not None
    if not has_text and not texts and doc.has((*IN, "tokenizer")):
        raise doc.error((*IN, "tokenizer"), "`tokenizer` splits `source_text:` and `target_text:`, and there is "
                                            "neither — add one, or remove `tokenizer`", key=True)
    source, target = (side_tokens(doc, IN, raw, side, tokenizer, "`input`") for side in SIDES)
    seen = [t for pair in examples or () for side in pair for t in side]
    if source is None and target is None and examples is not None:
        return pair_vocab(doc, raw, seen, tokenizer), [], []
    if source is None or target is None:
        missing = "source" if source is None else "target"
        raise doc.error(IN, f"a seq2seq needs `input.{missing}:` (or `{missing}_text:`) as well — the encoder reads "
                            f"the source and the decoder the target; add e.g. `{missing}: {EG[missing]}`")
    vocab = pair_vocab(doc, raw, source + target + seen, tokenizer)
    check_pair(doc, model, IN, "", vocab, source, target)
    if model.norm_type == "batch" and min(len(source), len(target) - 1) < 2:
        side = "source" if len(source) < 2 else "target"
        raise doc.error(where(doc, IN, side), f"the {'encoder' if side == 'source' else 'decoder'} reads one "
                                              "position, a single row, whose variance BatchNorm cannot estimate — "
                                              "give it two tokens or more, or use `norm_type: layer`")
    return vocab, source, target


def pair_vocab(doc: Located, raw: dict, tokens: list[str], tokenizer: Tokenizer = WORD) -> list[str]:
    """As written, or derived: `<pad>`, `<bos>`, `<eos>`, then the sorted distinct tokens of both sides (a
    bpe's: `<pad>`, `<bos>`, `<eos>`, `<unk>`, then what it learned)."""
    return vocab_list(doc, raw, tokens, SPECIALS, tokenizer)


def check_pair(doc: Located, model: ModelConfig, path: tuple, name: str, vocab: list[str], source, target) -> None:
    """One (source, target) pair: `<bos>` first in the target and something after it to predict, tokens in
    the vocab, a source that starts with a real token, and each side within max_len. `name`: "" for `input`,
    else the example's name (`data.examples[2]`)."""
    of = f" of {name}" if name else ""
    if target[0] != BOS:
        raise doc.error(where(doc, path, "target", 0), f"the target{of} starts with `{target[0]}`, but a target "
                                                       "starts with `<bos>`: the decoder reads target[:-1] from "
                                                       "`<bos>` on and predicts target[1:] — write `<bos>` first, "
                                                       f"e.g. [\"<bos>\", {target[0]}, …]{_split(target)}")
    known = set(vocab)
    for side, tokens in zip(SIDES, (source, target), strict=True):
        for j, tok in enumerate(tokens):
            if tok not in known:
                hint = did_you_mean(tok, vocab)
                hint = hint.replace(" — did", ", or did") if "did you mean" in hint else f" (it has: {listing(vocab)})"
                raise doc.error(where(doc, path, side, j), f"token `{tok}` of the {side}{of} (position {j}) is not "
                                                           f"in the vocab — add it to `input.vocab`{hint}")
    if source[0] == PAD:
        raise doc.error(where(doc, path, "source", 0), f"the source{of} starts with `<pad>`, which nothing may attend "
                                                       "to — start it with a real token")
    if len(target) < 2:
        raise doc.error(where(doc, path, "target"), f"the target{of} is `<bos>` alone, so the decoder has nothing to "
                                                    "predict — add the tokens it should produce after `<bos>`, e.g. "
                                                    f"`target: {EG['target']}`")
    if all(t == PAD for t in target[1:]):
        raise doc.error(where(doc, path, "target"), f"every predicted token of the target{of} is `<pad>`, and `<pad>` "
                                                    "targets are not scored, so there is no loss — add a real token "
                                                    "after `<bos>`")
    if model.positional != "learned":
        return
    for side, n, reader, note in (("source", len(source), "encoder", ""),
                                  ("target", len(target) - 1, "decoder", " (all of the target but the last)")):
        if n > model.max_len:
            raise doc.error(where(doc, path, side), f"the {side}{of} makes the {reader} read {n} tokens{note} but "
                                                    f"max_len is {model.max_len} — learned positions have one row per "
                                                    "position (source and target each count from 0); set "
                                                    f"`model.max_len: {n}` or more")


def _split(target: list[str]) -> str:
    """`tokenizer: char` makes `<bos>` written in a text five tokens; say so, since it reads as written."""
    if "".join(target[:len(BOS)]) == BOS:
        return " (`tokenizer: char` splits `<bos>` in `target_text` into characters: write `target:` as a list)"
    return ""
