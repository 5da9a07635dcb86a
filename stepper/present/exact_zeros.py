"""Gradients that are zero in exact arithmetic whatever the numbers, and why, in one sentence.

The computed value of such a gradient is round-off (1e-19 here, 1e-17 there), which the tables print
as 0 on every machine; a learner seeing a whole row of zeros deserves the reason, said once, on the
step that makes it. The reason is stated only when it holds: the recorded values must be round-off.
"""

from __future__ import annotations

import re

from stepper.roundoff import denoised
from stepper.trace import Tensor

# the key bias: K = X·W_K + b_K adds q·b_K to every score S[i, :] of query i alike, and softmax
# ignores a constant shift of a row, so the loss does not depend on b_K at all
_KEY_BIAS = re.compile(r"d:(?:.+\.)?attn\.b_K")


def exact_zero_note(phase: str, inputs: dict[str, Tensor], outputs: dict[str, Tensor]) -> str | None:
    if phase != "backward":
        return None
    for symbol, t in outputs.items():
        if _KEY_BIAS.fullmatch(t.key or "") and not denoised(t.value).any():
            incoming = next((s for s, i in inputs.items() if s.startswith("d") and not i.is_param), "dK")
            return (f"{symbol} = Σ_t {incoming}[t, :] is 0 in exact arithmetic, whatever the weights: the key "
                    "bias adds q·b_K to all the scores of a query alike, and softmax ignores a constant shift "
                    "of a row, so the loss cannot feel b_K; what the machine computes for it is round-off, "
                    "printed as 0")
    return None
