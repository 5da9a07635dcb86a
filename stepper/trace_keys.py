"""The names of a trace's quantities (docs/trace-keys.md), built in one place.

The engine keys every array it records with these names, and the independent torch reference
(stepper/verify/) computes the quantity of the same name its own way: the two share the names,
never the formulas, and the checker pairs them by name. Parameter names are contract §2's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOK_EMB, POS, X0 = "tok_emb", "pos", "x0"
POOLED, LOGITS, PROBS, LOSS = "pooled", "logits", "probs", "loss"
PERPLEXITY = "perplexity"  # exp(loss), beside every cross-entropy
EMBED_TOK, EMBED_POS, HEAD_W, HEAD_B = "embed.tok", "embed.pos", "head.W", "head.b"
# `tokenizer: bpe`: each merge's pair count when it was made, and the ids of the traced text's pieces
BPE_COUNTS, BPE_IDS, BPE_SOURCE_IDS = "tok.merge_count", "tok.ids", "tok.source_ids"


def grad(key: str) -> str:
    """dLoss/dKEY, for an activation or a parameter."""
    return f"d:{key}"


def grad_through(key: str, via: str) -> str:
    """The part of dLoss/dKEY that flows back through the operation that made `via` alone."""
    return f"d:{key}<-{via}"


def grad_into(key: str, via: str, shared: bool) -> str:
    """What a consumer `via` sends back to `key`: a part when others read `key` too (a merge step
    adds the parts), else the whole gradient."""
    return grad_through(key, via) if shared else grad(key)


@dataclass(frozen=True)
class NormKeys:
    """A LayerNorm: `out` its output (`L0.ln1`), `params` where γ and β live (`layers.0.ln1`)."""

    out: str
    params: str

    @property
    def gamma(self) -> str:
        return f"{self.params}.gamma"

    @property
    def beta(self) -> str:
        return f"{self.params}.beta"


@dataclass(frozen=True)
class ProjectionKeys:
    """Parameters of the linear maps in one block (`layers.0.attn` holds W_Q … b_O)."""

    params: str

    def weight(self, which: str) -> str:
        return f"{self.params}.W_{which}"

    def bias(self, which: str) -> str:
        return f"{self.params}.b_{which}"


@dataclass(frozen=True)
class AttentionKeys(ProjectionKeys):
    """One attention block's quantities, `at` their common prefix (`L0.attn`)."""

    at: str
    # the names of docs/trace-keys.md under `at`, each a property so that a static checker sees it

    @property
    def Q(self) -> str:
        return f"{self.at}.Q"

    @property
    def K(self) -> str:
        return f"{self.at}.K"

    @property
    def V(self) -> str:
        return f"{self.at}.V"

    @property
    def Q_hat(self) -> str:
        """`attention: cosine`: the query rows scaled to length 1, [H, T, d_k]."""
        return f"{self.at}.Q_hat"

    @property
    def K_hat(self) -> str:
        return f"{self.at}.K_hat"

    @property
    def S_raw(self) -> str:
        return f"{self.at}.S_raw"

    @property
    def S(self) -> str:
        return f"{self.at}.S"

    @property
    def S_masked(self) -> str:
        return f"{self.at}.S_masked"

    @property
    def A(self) -> str:
        return f"{self.at}.A"

    @property
    def Z(self) -> str:
        return f"{self.at}.Z"

    @property
    def concat(self) -> str:
        return f"{self.at}.concat"

    @property
    def out(self) -> str:
        return f"{self.at}.out"


ATTENTION_QUANTITIES = ("Q", "K", "V", "Q_hat", "K_hat", "S_raw", "S", "S_masked", "A", "Z", "concat", "out")


@dataclass(frozen=True)
class FFNKeys(ProjectionKeys):
    """The feed-forward block: `H` = X·W_1 + b_1, `G` its activation, `out` = G·W_2 + b_2."""

    at: str

    @property
    def H(self) -> str:
        return f"{self.at}.H"

    @property
    def G(self) -> str:
        return f"{self.at}.G"

    @property
    def out(self) -> str:
        return f"{self.at}.out"


@dataclass(frozen=True)
class LayerKeys:
    """Layer i: its sublayers' keys under `L{i}`, their parameters under `layers.{i}`; in a stack of an
    encoder–decoder, under `enc.L{i}` / `encoder.layers.{i}` (`stack`, `param_stack`)."""

    index: int
    stack: str = ""  # "enc" or "dec" in a seq2seq model
    param_stack: str = ""  # "encoder" or "decoder" in a seq2seq model

    @property
    def at(self) -> str:
        return f"{self.stack}.L{self.index}" if self.stack else f"L{self.index}"

    @property
    def params(self) -> str:
        return f"{self.param_stack}.layers.{self.index}" if self.param_stack else f"layers.{self.index}"

    @property
    def attn(self) -> AttentionKeys:
        return AttentionKeys(params=f"{self.params}.attn", at=f"{self.at}.attn")

    @property
    def ffn(self) -> FFNKeys:
        return FFNKeys(params=f"{self.params}.ffn", at=f"{self.at}.ffn")

    def residual(self, n: int) -> str:
        """The stream after the n-th residual addition (`L0.res1`)."""
        return f"{self.at}.res{n}"

    def norm(self, n: int) -> NormKeys:
        return NormKeys(out=f"{self.at}.ln{n}", params=f"{self.params}.ln{n}")


FINAL_NORM = NormKeys(out="ln_f", params="ln_f")


# -- the encoder–decoder (`kind: seq2seq`, contract §7) ----------------------------------------------
ENCODER, DECODER = "enc", "dec"  # the two stacks' prefixes in keys and step ids
ENCODER_NORM = NormKeys(out="enc.ln_f", params="encoder.ln_f")
DECODER_NORM = NormKeys(out="dec.ln_f", params="decoder.ln_f")


@dataclass(frozen=True)
class EmbedKeys:
    """One sequence's way in: its token rows, positions and their sum, under `stack` (`enc.x0`); the
    one-sequence kinds have no prefix (`x0`)."""

    stack: str = ""

    def _at(self, name: str) -> str:
        return f"{self.stack}.{name}" if self.stack else name

    @property
    def tok_emb(self) -> str:
        return self._at(TOK_EMB)

    @property
    def pos(self) -> str:
        return self._at(POS)

    @property
    def x0(self) -> str:
        return self._at(X0)


SOURCE_EMBED, TARGET_EMBED = EmbedKeys(ENCODER), EmbedKeys(DECODER)


def encoder_layer(i: int) -> LayerKeys:
    """Encoder layer i of a seq2seq model: `enc.L{i}.attn.Q`, parameters `encoder.layers.{i}.attn.W_Q`."""
    return LayerKeys(i, ENCODER, "encoder")


@dataclass(frozen=True)
class DecoderLayerKeys(LayerKeys):
    """Decoder layer i: causal self-attention (`dec.L{i}.self`, res1/ln1), cross-attention (`dec.L{i}.cross`,
    res2/ln2), the FFN (res3/ln3); parameters `decoder.layers.{i}.self_attn`, `.cross_attn`, `.ffn`."""

    @property
    def self_attn(self) -> AttentionKeys:
        return AttentionKeys(params=f"{self.params}.self_attn", at=f"{self.at}.self")

    @property
    def cross_attn(self) -> AttentionKeys:
        return AttentionKeys(params=f"{self.params}.cross_attn", at=f"{self.at}.cross")


def decoder_layer(i: int) -> DecoderLayerKeys:
    return DecoderLayerKeys(i, DECODER, "decoder")


# the blocks of a layer in order, by stack: `res{n}` and `ln{n}` belong to the n-th (engine/layer.py's
# sublayer_forward); `qkv` (pre-norm: the sum of what LN1's output fed Q, K and V) to the first
SUBLAYER_BLOCKS = {"": ("attn", "ffn"), ENCODER: ("attn", "ffn"), DECODER: ("self", "cross", "ffn")}


# ---- parameter groups: what "a layer" is when training measures its gradient norm per layer
EMBED_GROUP, OUTPUT_GROUP = "embed", "head"
_LAYER_PARAM = re.compile(r"^((?:encoder\.|decoder\.)?layers\.\d+)\.")


def layer_group(param: str) -> str:
    """The group a parameter's gradient norm is counted in: `layers.{i}` (`encoder.layers.{i}`,
    `decoder.layers.{i}` in a seq2seq model; an mlp's layers too) for a layer's own parameters,
    `embed` for the embeddings (`embed.*`), and `head` for everything after the last layer (the
    final norms `ln_f`, `encoder.ln_f`, `decoder.ln_f` and the output head `head.*`)."""
    found = _LAYER_PARAM.match(param)
    if found:
        return found.group(1)
    return EMBED_GROUP if param.startswith("embed.") else OUTPUT_GROUP


def layer_groups(params) -> dict[str, list[str]]:
    """The parameter names of each group, groups in the order their first parameter comes."""
    out: dict[str, list[str]] = {}
    for name in params:
        out.setdefault(layer_group(name), []).append(name)
    return out
