"""Where the summaries read a model's steps: its stacks of layers and the attentions in them.

A one-stack model (encoder or decoder) has one stack, whose layer i's steps are `fwd.L{i}…`, with one
attention each (`attn`). A seq2seq has two: the encoder's layers (`fwd.enc.L{i}…`: self-attention
`attn`, then the FFN) and the decoder's (`fwd.dec.L{i}…`: causal self-attention `self`, then
cross-attention `cross`, then the FFN), as `trace_keys.SUBLAYER_BLOCKS` lists them. The summaries loop
over these instead of spelling step ids, so each one works the same way on every stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepper.trace_keys import DECODER, ENCODER, SUBLAYER_BLOCKS, LayerKeys

# what each attention is called in a HeadSummary: `self` is a one-stack model's (unchanged from before
# seq2seq had summaries); the other three are a seq2seq's
ATTENTION_NAMES = {("", "attn"): "self", (ENCODER, "attn"): "encoder", (DECODER, "self"): "decoder self",
                   (DECODER, "cross"): "cross"}
STACK_NAMES = {"": "", ENCODER: "encoder", DECODER: "decoder"}  # a step's `stack` as summaries name it


@dataclass(frozen=True)
class Stack:
    name: str  # "" for a one-stack model, else "encoder" / "decoder"
    key: str  # the stack's prefix in step ids: "", "enc", "dec"
    layers: int

    def at(self, layer: int) -> str:
        """The prefix of layer `layer`'s forward steps: `fwd.L0`, `fwd.enc.L0`."""
        return f"fwd.{LayerKeys(layer, self.key).at}"

    @property
    def blocks(self) -> tuple[str, ...]:
        """The layer's sublayers in order (`res{n}` belongs to the n-th): ("attn", "ffn"), ("self", "cross", "ffn")."""
        return SUBLAYER_BLOCKS[self.key]


@dataclass(frozen=True)
class Attention:
    name: str  # "self" | "encoder" | "decoder self" | "cross" (ATTENTION_NAMES)
    stack: Stack
    block: str  # "attn", "self", "cross": the block's name in step ids

    def at(self, layer: int, head: int, heads: int) -> str:
        """The prefix of one head's steps; a one-head model's carry no head (`fwd.L0.attn.softmax`), as the
        engine writes them."""
        return f"{self.stack.at(layer)}.{self.block}" + (f".h{head}" if heads > 1 else "")


def stacks(model) -> list[Stack]:
    """The stacks of a transformer's config (`ModelConfig` or the trace's `config["model"]` dict); none
    for an mlp."""
    get = model.get if isinstance(model, dict) else lambda key, default=None: getattr(model, key, default)
    kind, n_layers = get("kind"), int(get("n_layers", 0) or 0)
    if kind == "mlp":
        return []
    if kind == "seq2seq":
        return [Stack("encoder", ENCODER, n_layers), Stack("decoder", DECODER, int(get("n_dec_layers", 0) or n_layers))]
    return [Stack("", "", n_layers)]


def attentions(model) -> list[Attention]:
    """Every attention of the model in reading order: the encoder's, the decoder's self-attention, then its
    cross-attention (one stack: its one attention)."""
    return [Attention(ATTENTION_NAMES[(s.key, block)], s, block) for s in stacks(model) for block in s.blocks
            if block != "ffn"]
