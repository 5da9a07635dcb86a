"""Which entries of a step's table the app shows, hides or marks: both ends of a long axis, the
attention mask's hidden scores, the embedding rows a step's token ids select."""

from __future__ import annotations

import numpy as np

from stepper.trace import Step, Tensor, Trace

# stages whose square token×token tensors carry the attention mask's pattern
MASKED_STAGES = frozenset({"mask", "softmax", "weighted_sum"})


def elide(n: int, limit: int, keep: set[int] | frozenset[int] = frozenset()) -> list[int | None]:
    """Indices to show out of `n`: both ends plus `keep`; `None` stands for each hidden run."""
    if n <= limit + 2:  # hiding one or two rows would save less than the ⋮ line costs
        return list(range(n))
    head = max(1, limit // 2)
    tail = max(1, limit - 1 - head)
    shown = sorted({*range(head), *range(n - tail, n), *(k for k in keep if 0 <= k < n)})
    out: list[int | None] = []
    for k in shown:
        if out and out[-1] is not None and k != out[-1] + 1:
            out.append(None)
        out.append(k)
    return out


def mask_of(trace: Trace, step: Step) -> np.ndarray | None:
    """The boolean mask (True = hidden) of this step's attention head, if it has one."""
    if step.stage not in MASKED_STAGES or step.head is None:
        return None
    for other in trace.steps:
        if (other.stage == "mask" and other.phase == "forward" and other.layer == step.layer
                and other.head == step.head and "M" in other.inputs):
            hidden = np.isneginf(np.asarray(other.inputs["M"].value, dtype=float))
            return hidden if hidden.any() else None
    return None


def looked_up_rows(step: Step, tensor: Tensor) -> set[int]:
    """Rows of an embedding table that this step's token ids select (or send gradient to)."""
    ids = step.inputs.get("ids")
    table = (tensor.key or "").removeprefix("d:") == "embed.tok"
    if step.stage != "embedding" or ids is None or not table or tensor.value.ndim != 2:
        return set()
    return {int(i) for i in np.asarray(ids.value).ravel() if 0 <= i < tensor.value.shape[0]}
