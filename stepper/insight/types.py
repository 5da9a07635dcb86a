"""The summaries `stepper.insight` returns: plain data, numbers first, words made from them by `present`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# a head is said to attend to X only when, averaged over the examples' real (non-<pad>) query rows, at
# least this share of its attention weight goes to X
PATTERN_THRESHOLD = 0.5


@dataclass(frozen=True)
class HeadSummary:
    layer: int
    head: int
    # the share of attention weight, averaged over every real query row of every example, that goes to:
    # "previous" (key = query − 1), "same" (key = query), "first" (key 0), "pad" (<pad> keys), "later"
    # (key > query, encoders only), and per token string in `to_token` (e.g. {"great": 0.41}); a
    # cross-attention has "same", "first" and "pad" only, measured on the source (heads.py)
    shares: dict[str, float]
    to_token: dict[str, float]
    pattern: str | None  # the share's name ("previous", "same", "first", a token) when ≥ PATTERN_THRESHOLD
    maps: list[np.ndarray] = field(default_factory=list)  # [rows, keys] per example, the trained attention
    examples: list[list[str]] = field(default_factory=list)  # each example's query tokens (the maps' rows)
    # the largest share whether or not it passes the threshold (ties: position shares first, in the
    # order above, then tokens in vocabulary order), read without its round-off; `top_is_token` says
    # whether `top` names a token string (a vocabulary may hold a token spelt "same")
    top: str = ""
    top_share: float = 0.0
    top_is_token: bool = False
    # per token string s: the mean weight on s over only the query rows that can see a key holding s
    to_token_when_seen: dict[str, float] = field(default_factory=dict)
    rows: int = 0  # the real query rows averaged over
    # which attention the head belongs to: "self" (a one-stack model's), or a seq2seq's "encoder",
    # "decoder self" or "cross" (whose keys are the source tokens, see heads.py); and its stack, as
    # UnitSummary and LayerWork name it
    attention: str = "self"
    stack: str = ""  # "" (one stack), or a seq2seq's "encoder" / "decoder"
    keys: list[list[str]] = field(default_factory=list)  # each example's key tokens (the maps' columns)
    # [query position, key position]: the mean weight over the examples holding real tokens at both
    by_position: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


@dataclass(frozen=True)
class UnitSummary:
    layer: int
    unit: int  # the column of the FFN's hidden layer (after the activation)
    peak: float  # its largest activation over every real token of every example
    example: int  # where the peak is: the example's index and the token's position
    position: int
    token: str
    mean: float  # its mean activation over every real token
    stack: str = ""  # "" (one stack), or a seq2seq's "encoder" / "decoder"


@dataclass(frozen=True)
class LayerWork:
    layer: int
    tokens: list[str]
    ratio: np.ndarray  # [T] ‖what the layer added to each token's vector‖ / ‖the vector it started from‖
    # the same for each sublayer alone: ‖what it adds at its residual step‖ / ‖what it is added to‖
    # (`attn`: the layer's self-attention, `cross`: a seq2seq decoder layer's cross-attention, else empty)
    attn: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ffn: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cross: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stack: str = ""  # "" (one stack), or a seq2seq's "encoder" / "decoder"
