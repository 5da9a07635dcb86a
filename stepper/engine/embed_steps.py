"""A sequence's way in, recorded: its rows of `embed.tok`, plus the positions (`x0`); and the way back:
the lookup's part of the table's gradient and, with learned positions, the positions' part of `embed.pos`'s.

One sequence (encoder, decoder) is keyed `tok_emb`/`pos`/`x0` with steps `fwd.embed`, `fwd.pos`; an
encoder–decoder has two, `enc.…` and `dec.…`, which share the table (and `embed.pos`), so each returns
its own part and a merge step (`merge_table`) adds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stepper.engine import embedding, positional, positional_concat, residual
from stepper.engine.record import tensor
from stepper.engine.recorded import Keyed
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace import Tensor
from stepper.trace_keys import EMBED_POS, EMBED_TOK, EmbedKeys, grad


@dataclass
class EmbedCache:
    keys: EmbedKeys
    ids: np.ndarray  # [T]
    lookup: tuple  # embedding.forward's cache
    sequence: str  # "" or which one ("source", "target"), for the titles


def step_id(phase: str, keys: EmbedKeys, part: str) -> str:
    """`fwd.embed`, or in a stack `fwd.enc.embed`."""
    return ".".join(p for p in (phase, keys.stack, part) if p)


def _titled(title: str, sequence: str) -> str:
    return f"{title} ({sequence})" if sequence else title


def forward(w: StepWriter, ids: np.ndarray, keys: EmbedKeys, m: ModelConfig,
            sequence: str = "") -> tuple[Keyed, EmbedCache]:
    """x0 = embed.tok[ids] (+ the positions, from 0): the stream entering layer 0."""
    lab = w.lab
    e, lookup = embedding.forward(ids, w.params[EMBED_TOK])  # [T, D] (concat: [T, d_tok])
    cache = EmbedCache(keys, ids, lookup, sequence)
    w.step(step_id("fwd", keys, "embed"), "embedding", _titled("Token embedding", sequence), embedding.FORMULA,
           {"ids": tensor("ids", ids.astype(float), None, lab.tokens, None),
            EMBED_TOK: w.param("W_tok", EMBED_TOK)}, [_token_rows(w, "E", e, keys.tok_emb)])
    if m.positional == "none":
        return Keyed(e, keys.x0), cache
    t = len(ids)
    if m.positional == "concat":
        pe = positional.sinusoidal(t, m.d_pos)  # [T, d_pos]
        x = positional_concat.forward(e, pe)  # [T, D]
        w.step(step_id("fwd", keys, "pos"), "positional", _titled("Positions beside the tokens", sequence),
               positional_concat.FORMULA, [_token_rows(w, "E", e, keys.tok_emb)],
               [tensor("PE", pe, keys.pos, lab.tokens, lab.dims[m.d_tok:]), w.td("X", x, keys.x0)],
               bindings={"d_tok": str(m.d_tok), "d_pos": str(m.d_pos), "d_model": str(m.d_model)})
        return Keyed(x, keys.x0), cache
    pe = positional.sinusoidal(t, m.d_model) if m.positional == "sinusoidal" else w.params[EMBED_POS][:t]
    x, _ = positional.forward(e, pe)  # [T, D]
    formula = positional.FORMULA if m.positional == "sinusoidal" else positional.LEARNED_FORMULA
    w.step(step_id("fwd", keys, "pos"), "positional", _titled("Positional encoding", sequence), formula,
           [w.td("E", e, keys.tok_emb)], [w.td("PE", pe, keys.pos), w.td("X", x, keys.x0)],
           bindings={"d": str(m.d_model)})
    return Keyed(x, keys.x0), cache


def backward(w: StepWriter, dx: np.ndarray, c: EmbedCache, m: ModelConfig, table_key: str,
             pos_key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(this lookup's d embed.tok [V, D], this sequence's d embed.pos [max_len, D] or None), shown under
    `table_key` and `pos_key`: the whole gradient, or a part (d:embed.tok<-enc.tok_emb) a merge adds."""
    lab, keys, d_pos = w.lab, c.keys, None
    if m.positional == "concat":
        d_e = positional_concat.backward(dx, m.d_tok)  # [T, d_tok]
        w.step(step_id("bwd", keys, "pos"), "positional", _titled("Back out of the concatenation", c.sequence),
               positional_concat.GRAD_FORMULA, [w.td("dX", dx, grad(keys.x0))],
               [_token_rows(w, "dE", d_e, grad(keys.tok_emb))], bindings={"d_tok": str(m.d_tok)})
        dx = d_e
    elif m.positional != "none":
        d_e, d_pos = positional.backward(dx, None, m.max_len if m.positional == "learned" else None)
        outs = [w.td("dE", d_e, grad(keys.tok_emb))]
        if d_pos is not None:
            outs.append(tensor("dW_pos", d_pos, pos_key, [f"p{i}" for i in range(m.max_len)], lab.dims))
        formula = positional.GRAD_FORMULA if m.positional == "learned" else positional.SINUSOIDAL_GRAD_FORMULA
        w.step(step_id("bwd", keys, "pos"), "positional", _titled("Through the positions", c.sequence), formula,
               [w.td("dX", dx, grad(keys.x0))], outs)
        dx = d_e
    d_table = embedding.backward(dx, c.lookup)  # [V, D]
    w.step(step_id("bwd", keys, "embed"), "embedding", _titled("Into the embedding table", c.sequence),
           embedding.GRAD_FORMULA,
           [_token_rows(w, "dE", dx, grad(keys.tok_emb)), tensor("ids", c.ids.astype(float), None, lab.tokens)],
           [tensor("dW_tok", d_table, table_key, lab.vocab, lab.dims[:d_table.shape[1]])])
    return d_table, d_pos


def _token_rows(w: StepWriter, symbol: str, value: np.ndarray, key: str) -> Tensor:
    """[T, d_tok]: token rows, labelled by the columns of X0 they fill (all d_model of them, unless concat)."""
    return tensor(symbol, value, key, w.lab.tokens, w.lab.dims[:value.shape[1]])


def merge_table(w: StepWriter, step: str, title: str, name: str, parts: list[tuple[str, np.ndarray, str]],
                rows: list[str]) -> np.ndarray:
    """A shared table's gradient: the sum of its parts (symbol, value, key), one per use."""
    total = sum(value for _, value, _ in parts)  # [rows, D]
    w.step(step, "merge", title, residual.MERGE_FORMULA,
           [tensor(symbol, value, key, rows, w.lab.dims) for symbol, value, key in parts],
           [tensor("dW_tok" if name == EMBED_TOK else "dW_pos", total, grad(name), rows, w.lab.dims)],
           bindings={"paths": " + ".join(symbol for symbol, _, _ in parts)})
    return total
