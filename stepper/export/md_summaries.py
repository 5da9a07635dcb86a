"""The export's summaries of the trained model, inside "What training did": where each head looks, the
FFN units that fire most, and how far each layer moves each token (before → after training).

A one-stack model's come as one table each; a seq2seq's under a heading per attention (Encoder
self-attention, Decoder self-attention, Cross-attention) and per stack (Encoder, Decoder), each with
the columns that mean something there: a cross-attention's rows are target tokens and its keys source
tokens, so its shares are "same" (the diagonal), "first" and "pad" only, and its alignment by position
is said with its numbers (`insight.heads`).
"""

from __future__ import annotations

from stepper.export.md_tables import text, token
from stepper.insight.heads import position_shares
from stepper.insight.passes import sequence_of
from stepper.insight.trained import UNITS_PER_LAYER, TrainedInsight
from stepper.present import insight_words as words
from stepper.present.numbers import table_number


def cell(before: float, after: float, precision: int) -> str:
    return f"{table_number(before, precision)} → {table_number(after, precision)}"


def heads_block(seen: TrainedInsight, precision: int) -> str:
    examples, before, after = seen.examples, seen.heads_before, seen.heads_after
    lines = [f"### Where each head looks, over {len(examples)} example{'s' * (len(examples) != 1)}", "",
             "The mean share of each head's attention weight, over every real query row of the examples, "
             "that goes to each place (before → after training): the previous token, the query's own token, "
             "the first token, later tokens and `<pad>`; then the tokens that draw most weight from the rows "
             "that can see them (after training). " + words.THRESHOLD_RULE]
    if any(a.attention == "cross" for a in after):
        lines += ["", "A cross-attention's query rows are the target tokens the decoder reads and its keys the "
                  "source tokens: its shares are the source token at the query's own index (the diagonal), the "
                  "first source token and source `<pad>`, and the tokens are source tokens. Its alignment by "
                  "position is the mean weight of each query row on each source position, over the examples."]
    pairs = list(zip(before, after, strict=True))
    for attention in dict.fromkeys(a.attention for a in after):
        group = [(b, a) for b, a in pairs if a.attention == attention]
        names = position_shares(attention)
        if attention in words.ATTENTION_TITLES:
            lines += ["", f"#### {words.ATTENTION_TITLES[attention]}"]
        lines += ["", "| head | " + " | ".join(names) + " | most weight where seen | pattern (after) |",
                  "|:---|" + "---:|" * len(names) + ":---|:---|"]
        for b, a in group:
            shares = " | ".join(cell(b.shares[n], a.shares[n], precision) for n in names)
            lines.append(f"| {words.head_label(a)} | {shares} | {text(words.seen_words(a, precision))} | "
                         f"{text(words.pattern_words(a, precision))} |")
        said = [words.head_sentence(a, precision) for _, a in group]
        if attention == "cross":
            said = [f"{s} {words.alignment_sentence(a, precision)}" for s, (_, a) in zip(said, group, strict=True)]
        lines += ["", " ".join(text(s) for s in said)]
    return "\n".join(lines)


def units_block(seen: TrainedInsight, precision: int) -> str:
    examples, units = seen.examples, seen.units
    if not units:  # `ffn: false`: the blocks have no FFN
        return ""
    lines = ["### The FFN units that fire most (after training)", "",
             f"Per layer, the {UNITS_PER_LAYER} hidden units (after the activation) with the largest activation on "
             "any real token of the examples, where that is, and the unit's mean over every real token.", "",
             "| layer | unit | peak | example | position | token | mean |", "|:---|---:|---:|---:|---:|:---|---:|"]
    lines += [f"| {_layer(u.stack, u.layer)} | f{u.unit} | {table_number(u.peak, precision)} | {u.example} | "
              f"{u.position} | {token(u.token)} | {table_number(u.mean, precision)} |" for u in units]
    # the first (largest) unit of each stack's layer: a layer narrower than UNITS_PER_LAYER lists fewer
    firsts = [u for i, u in enumerate(units) if i == 0 or (units[i - 1].stack, units[i - 1].layer) != (u.stack, u.layer)]
    lines += ["", " ".join(text(words.unit_sentence(u, sequence_of(examples[u.example], u.stack), precision)) for u in firsts)]
    return "\n".join(lines)


def layers_block(seen: TrainedInsight, norm: str | None, precision: int) -> str:
    if not seen.layers_before:  # a sublayer without its residual add (see insight/layers.py)
        return ""
    pairs = list(zip(seen.layers_before, seen.layers_after, strict=True))
    two_stacks = any(b.stack for b, _ in pairs)
    if two_stacks:
        leaving = ("its last LayerNorm, ln2 (a decoder layer's ln3)" if norm == "post"
                   else "its last residual add, res2 (a decoder layer's res3)")
    else:
        leaving = "its LayerNorm ln2" if norm == "post" else "its second residual add"
    lines = ["### How far each layer moves each token, before → after", "",
             f"For each token: ‖what the layer changed‖ / ‖the vector entering the layer‖ (leaving it: after "
             f"{leaving}), and for each sublayer ‖what it adds‖ / ‖what it is added to‖."]
    for stack in dict.fromkeys(b.stack for b, _ in pairs):
        group = [(b, a) for b, a in pairs if b.stack == stack]
        cross = group[0][0].cross.size > 0  # a seq2seq decoder layer: self-attention, cross-attention, FFN
        if stack:
            lines += ["", f"#### {stack.capitalize()}"]
        lines += ["", "| layer | token | whole layer | " + ("self-attention | cross-attention" if cross else "attention")
                  + " | FFN |", "|:---|:---|---:|---:|" + "---:|" * (1 + cross)]
        for b, a in group:
            parts = [b.ratio, b.attn, *([b.cross] if cross else []), b.ffn]
            after = [a.ratio, a.attn, *([a.cross] if cross else []), a.ffn]
            lines += [f"| {_layer(b.stack, b.layer)} | {token(tok)} | " + " | ".join(cell(x[t], y[t], precision)
                                                                     for x, y in zip(parts, after, strict=True)) + " |"
                      for t, tok in enumerate(b.tokens)]
        lines += ["", " ".join(text(words.layer_sentence(b.layer, b.ratio, a.ratio, precision, b.stack))
                               for b, a in group)]
    return "\n".join(lines)


def _layer(stack: str, layer: int) -> str:
    """A table's layer cell: `0`, or in a seq2seq `encoder 0` / `decoder 0`."""
    return f"{stack} {layer}" if stack else str(layer)
