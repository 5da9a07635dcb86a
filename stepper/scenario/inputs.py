"""What goes into the model: tokens and their vocabulary, or an mlp's feature vector."""

from __future__ import annotations

from stepper.scenario.errors import did_you_mean, listing, plural
from stepper.scenario.fields import got, numbers, words
from stepper.scenario.tokenize import WORD, Tokenizer
from stepper.scenario.types import PAD, ModelConfig, TaskConfig
from stepper.scenario.yamlread import Located

IN = ("input",)


def features(doc: Located, model: ModelConfig, raw: dict,
             required: bool = True) -> tuple[float, ...] | tuple[tuple[float, ...], ...]:
    """One input vector [sizes[0]], or a batch: a list of such vectors, one per example [B, sizes[0]].
    Not `required` when `data:` gives examples (the first is traced then): () when absent."""
    feats, n0, path = raw["features"], model.sizes[0], (*IN, "features")
    if feats is None and not required:
        return ()
    if feats is None:
        raise doc.error(IN, f"an mlp needs `input.features:`, {plural(n0, 'number')} (sizes[0]), "
                            "e.g. `features: [1.0, -1.0]`, or one such list per example")
    if any(isinstance(f, list) for f in feats):
        return _batch(doc, path, feats, n0)
    if len(feats) != n0:
        raise doc.error(path, f"`features` has {plural(len(feats), 'number')} but `sizes[0]` is "
                              f"{n0} — give {n0}, or change `sizes`")
    return numbers(doc, path, feats, "a feature number")


def _batch(doc: Located, path: tuple, feats: list, n0: int) -> tuple[tuple[float, ...], ...]:
    """A list of lists: every row one example of exactly sizes[0] numbers."""
    first = feats[0]
    rows = []
    for i, row in enumerate(feats):
        if not isinstance(row, list):
            raise doc.error((*path, i), f"row {i} of `features` is {got(doc, (*path, i), row)}, not a list — in a batch every "
                                        f"example is a list of sizes[0] = {n0} numbers, e.g. `features: "
                                        "[[0, 1], [1, 0]]`")
        if len(row) != n0:
            if i and isinstance(first, list) and len(first) == n0:
                raise doc.error((*path, i), f"ragged rows: row {i} of `features` has "
                                            f"{plural(len(row), 'number')} but row 0 has {n0} — every example "
                                            f"needs sizes[0] = {n0}")
            raise doc.error((*path, i), f"row {i} of `features` has {plural(len(row), 'number')} but `sizes[0]` "
                                        f"is {n0} — give {n0} per example, or change `sizes`")
        rows.append(numbers(doc, (*path, i), row, "a feature number"))
    return tuple(rows)


def tokens_and_vocab(doc: Located, raw: dict, examples: list[list[str]] | None = None,
                     texts: bool = False, tokenizer: Tokenizer = WORD) -> tuple[list[str], list[str]]:
    """(vocab, tokens) — tokens as given or split from `text`; vocab as given or derived.

    `examples`: the tokens of every example of `data:` (None without it): a derived vocab holds them too,
    and `input` may then be left out (tokens [] — the first example is traced). `texts`: some example
    is written as `text:`, which `tokenizer` (`input.tokenizer`'s) splits."""
    if raw["tokens"] is not None and raw["text"] is not None:
        raise doc.error((*IN, "text"), "give `tokens:` or `text:`, not both — delete one", key=True)
    if raw["text"] is None and not texts and doc.has((*IN, "tokenizer")):
        raise doc.error((*IN, "tokenizer"), "`tokenizer` splits `text:`, and there is no `text:` — "
                                            "add `text:` or remove `tokenizer`", key=True)
    if raw["tokens"] is None and raw["text"] is None and examples is not None:
        return vocab_list(doc, raw, [t for ex in examples for t in ex], tokenizer=tokenizer), []
    if raw["tokens"] is not None:
        tokens = words(doc, (*IN, "tokens"), raw["tokens"], "token")
        if not tokens:
            raise doc.error((*IN, "tokens"), "`tokens` is empty — give at least one token, e.g. [I, am]")
    elif raw["text"] is not None:
        text = raw["text"]
        tokens = tokenizer.split(text)
        if not tokens:
            raise doc.error((*IN, "text"), "`text` is empty — write a few words, e.g. `text: I am happy`")
    else:
        raise doc.error(IN, "no input: give `input.tokens:` (a list, e.g. [I, am]) or `input.text:` "
                            "(e.g. `text: I am`)")
    vocab = vocab_list(doc, raw, tokens + [t for ex in examples or () for t in ex], tokenizer=tokenizer)
    where = "tokens" if raw["tokens"] is not None else "text"
    known = set(vocab)  # a set: a long text against a long vocab must not be quadratic
    for i, tok in enumerate(tokens):
        if tok not in known:
            path = (*IN, "tokens", i) if where == "tokens" else (*IN, "text")
            hint = did_you_mean(tok, vocab)
            hint = hint.replace(" — did", ", or did") if "did you mean" in hint else f" (it has: {listing(vocab)})"
            raise doc.error(path, f"token `{tok}` is not in the vocab — add it to `input.vocab`{hint}")
    if tokens[0] == PAD:
        path = (*IN, "tokens", 0) if where == "tokens" else (*IN, "text")
        raise doc.error(path, "the first token is `<pad>`, which nothing may attend to, so the first row of "
                              "attention would be empty — start with a real token")
    return vocab, tokens


def vocab_list(doc: Located, raw: dict, tokens: list[str], specials: tuple[str, ...] = (PAD,),
               tokenizer: Tokenizer = WORD) -> list[str]:
    """`input.vocab` as written (checked), or derived: `specials` first, then the sorted distinct `tokens`;
    a bpe's is the one it learned, every piece in it (not only those this text uses)."""
    if tokenizer.bpe is not None:
        return list(tokenizer.bpe.vocab)
    if raw["vocab"] is None:  # derived: deterministic, and `<pad>` keeps id 0 as it does by habit
        return [*specials, *sorted(set(tokens) - set(specials))]
    vocab = words(doc, (*IN, "vocab"), raw["vocab"], "vocab entry")
    if not vocab:
        raise doc.error((*IN, "vocab"), "`vocab` is empty — list every token, e.g. [\"<pad>\", I, am], or "
                                        "delete `vocab:` to derive it from the tokens")
    first: dict[str, int] = {}
    for i, v in enumerate(vocab):
        if v in first:
            raise doc.error((*IN, "vocab", i), f"`{v}` appears twice in the vocab (entries {first[v]} "
                                               f"and {i}) — keep one")
        first[v] = i
    return vocab


def check_length(doc: Located, model: ModelConfig, task: TaskConfig, tokens: list[str]) -> None:
    """Learned positions have one row per position: the model's input must fit in max_len."""
    if model.kind in ("mlp", "seq2seq") or model.positional != "learned":  # seq2seq: checked with its pair
        return
    n = len(tokens) - (task.kind == "next_token")  # next_token feeds all but the last token
    if n > model.max_len:
        where = ("input", "tokens") if doc.has(("input", "tokens")) else ("input", "text")
        fed = " (all but the last, for next_token)" if task.kind == "next_token" else ""
        raise doc.error(where, f"the model reads {n} tokens{fed} but max_len is {model.max_len} — learned "
                               f"positions have one row per position; set `model.max_len: {n}` or more")
