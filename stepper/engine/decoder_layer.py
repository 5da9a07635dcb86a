"""A decoder layer of an encoder–decoder (torch.nn.TransformerDecoderLayer): causal self-attention, then
cross-attention, then the FFN, each in its residual and norm (layer.py's sublayers: res1/ln1, res2/ln2, res3/ln3).

Cross-attention is the attention block fed from two streams: its queries come from the decoder stream,
its keys and values from the encoder's output (the memory). So its backward sends only the queries'
gradient down the decoder stream; the K and V parts belong to the memory, and are kept in
`DecoderInputs.memory_paths` for the step that adds every decoder layer's parts (seq2seq.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from stepper.engine import attention, ffn
from stepper.engine.attention import AttentionCache
from stepper.engine.layer import LayerCache, LayerNorms, Sublayer, sublayer_forward
from stepper.engine.recorded import Keyed, Path
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace_keys import DecoderLayerKeys

SELF_ATTENTION = Sublayer(1, "Attn", "Residual: x + self-attention", "Through the self-attention residual",
                          "Sum into the layer input", "qkv.merge", "Sum the Q, K, V gradients")
CROSS_ATTENTION = Sublayer(2, "Cross", "Residual: x + cross-attention", "Through the cross-attention residual",
                           "Sum: skip + query gradients")
FEED_FORWARD = Sublayer(3, "F", "Residual: x + FFN", "Through the FFN residual", "Sum: skip + FFN gradients")


@dataclass
class DecoderInputs:
    """What every decoder layer reads besides its own stream."""

    memory: Keyed  # [T_s, D] the encoder's output
    w_memory: StepWriter  # labels the memory's rows with the source tokens
    self_ok: np.ndarray  # [T_t, T_t] causal, and no <pad> key
    cross_ok: np.ndarray  # [T_t, T_s] no source <pad> key
    self_mask: str  # the masks' names, as the mask steps show them
    cross_mask: str
    # filled by the backward pass: each cross-attention's K and V parts of the memory's gradient
    memory_paths: list[Path] = field(default_factory=list)


def decoder_layer_forward(w: StepWriter, norms: LayerNorms, keys: DecoderLayerKeys, x: Keyed, d: DecoderInputs,
                          m: ModelConfig) -> tuple[Keyed, LayerCache]:
    """`w` writes the layer's own steps (residuals, norms, FFN); each attention block titles its steps."""
    i = keys.index
    w_self, w_cross = w.titled("Decoder self-attention: "), w.titled("Decoder cross-attention: ")

    def attend(a: Keyed):
        return attention.forward(w_self, keys.self_attn, a, a, d.self_ok, m, layer=i, mask_name=d.self_mask)

    def cross(a: Keyed):
        return attention.forward(w_cross, keys.cross_attn, a, d.memory, d.cross_ok, m, layer=i,
                                 mask_name=d.cross_mask, w_kv=d.w_memory)

    def cross_backward(d_out: np.ndarray, c: AttentionCache, grads: dict[str, np.ndarray], *,
                       shared: bool) -> list[Path]:
        q, k, v = attention.backward(w_cross, d_out, c, grads, shared=shared)
        # the backward pass meets the layers last to first: put this one's parts first, so they read in layer order
        d.memory_paths[:0] = [Path(f"dM_{mat}{i}", p.value, p.key) for mat, p in (("K", k), ("V", v))]
        return [q]

    def feed_forward(a: Keyed):
        return ffn.forward(w, keys.ffn, a, m.activation, layer=i)

    x, self_attn = sublayer_forward(w, norms, keys, SELF_ATTENTION, x, attend,
                                    functools.partial(attention.backward, w_self))
    x, cross_attn = sublayer_forward(w, norms, keys, CROSS_ATTENTION, x, cross, cross_backward)
    x, ff = sublayer_forward(w, norms, keys, FEED_FORWARD, x, feed_forward, functools.partial(ffn.backward, w))
    return x, LayerCache(keys, [self_attn, cross_attn, ff])
