"""The encoder–decoder's forward pass in torch (`kind: seq2seq`), one keyed operation per quantity of
docs/trace-keys.md, with the semantics of torch.nn.Transformer (dropout 0): the encoder stack over the
source, the decoder stack (causal self-attention, cross-attention to the memory, FFN) over target[:-1].

Written from those definitions with torch's own functions; the names come from stepper/trace_keys.py,
the backward is autograd's. A memory read by several cross-attentions, or a table read by both lookups
and a tied head, needs no sum written here: autograd adds the paths itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stepper.scenario.types import Scenario
from stepper.trace_keys import (
    DECODER_NORM,
    EMBED_POS,
    EMBED_TOK,
    ENCODER_NORM,
    HEAD_B,
    HEAD_W,
    LOGITS,
    SOURCE_EMBED,
    TARGET_EMBED,
    DecoderLayerKeys,
    EmbedKeys,
    decoder_layer,
    encoder_layer,
)
from stepper.verify.graph import Graph
from stepper.verify.reference_transformer import (
    attention,
    feed_forward,
    linear,
    norm,
    pad_id,
    sinusoidal,
    sublayer,
)
from stepper.verify.reference_transformer import encoder_layer as encoder_layer_of


def source_ids(scenario: Scenario) -> list[int]:
    index = {t: i for i, t in enumerate(scenario.vocab)}
    return [index[t] for t in scenario.source_tokens]


def build_seq2seq(g: Graph, scenario: Scenario) -> str:
    """Adds both stacks and the head; returns the logits' key ([T_target − 1, V])."""
    return build_decoder(g, scenario, build_encoder(g, scenario))


def _pad_mask(scenario: Scenario, ids: list[int]) -> torch.Tensor:
    pad = pad_id(scenario)
    return torch.tensor([i == pad for i in ids], dtype=torch.bool)


def build_encoder(g: Graph, scenario: Scenario) -> str:
    """The encoder stack over the source (and encoder.ln_f); returns the memory's key ([T_source, D])."""
    m, src = scenario.model, source_ids(scenario)
    # True where a query may NOT see a key: <pad> keys
    enc_mask = _pad_mask(scenario, src)[None, :].expand(len(src), len(src))
    memory = _embed(g, scenario, SOURCE_EMBED, src)
    for i in range(m.n_layers):
        memory = encoder_layer_of(g, scenario, encoder_layer(i), memory, enc_mask, src)
    if m.final_norm:
        memory = norm(g, scenario, ENCODER_NORM, memory, src)
    return memory


def build_decoder(g: Graph, scenario: Scenario, memory: str) -> str:
    """The decoder stack over target[:-1], reading `memory`, and the head; returns the logits' key."""
    m, src, tgt = scenario.model, source_ids(scenario), scenario.token_ids[:-1]
    src_pad, tgt_pad = _pad_mask(scenario, src), _pad_mask(scenario, tgt)
    # True where a query may NOT see a key: <pad> keys everywhere, and the decoder's future
    self_mask = tgt_pad[None, :].expand(len(tgt), len(tgt)) | torch.ones(len(tgt), len(tgt), dtype=torch.bool).triu(1)
    cross_mask = src_pad[None, :].expand(len(tgt), len(src))
    y = _embed(g, scenario, TARGET_EMBED, tgt)
    for i in range(m.n_dec_layers):
        y = _decoder_layer(g, scenario, decoder_layer(i), y, memory, (self_mask, cross_mask), tgt)
    if m.final_norm:
        y = norm(g, scenario, DECODER_NORM, y, tgt)
    if m.tie_embeddings:
        return g.op(LOGITS, lambda h, e: F.linear(h, e), y, EMBED_TOK)  # tied: scores = h · Eᵀ
    return linear(g, LOGITS, y, HEAD_W, HEAD_B)


def _embed(g: Graph, scenario: Scenario, keys: EmbedKeys, ids: list[int]) -> str:
    """Token rows plus positions, each sequence from position 0."""
    m, t = scenario.model, len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    g.op(keys.tok_emb, lambda e: F.embedding(ids_t, e), EMBED_TOK)
    if m.positional == "none":
        return g.alias(keys.x0, keys.tok_emb)
    if m.positional == "sinusoidal":
        g.constant(keys.pos, sinusoidal(t, m.d_model))
    else:
        g.op(keys.pos, lambda p: p[:t], EMBED_POS)
    return g.op(keys.x0, torch.add, keys.tok_emb, keys.pos)


def _decoder_layer(g: Graph, scenario: Scenario, keys: DecoderLayerKeys, x: str, memory: str,
                   masks: tuple[torch.Tensor, torch.Tensor], ids: list[int]) -> str:
    """torch.nn.TransformerDecoderLayer: self-attention, cross-attention (queries from the decoder,
    keys and values from the memory), FFN."""
    self_mask, cross_mask = masks
    x = sublayer(g, scenario, keys, 1, x, ids, lambda a: attention(g, scenario, keys.self_attn, a, a, self_mask))
    x = sublayer(g, scenario, keys, 2, x, ids,
                 lambda a: attention(g, scenario, keys.cross_attn, a, memory, cross_mask))
    return sublayer(g, scenario, keys, 3, x, ids, lambda a: feed_forward(g, scenario, keys.ffn, a))
