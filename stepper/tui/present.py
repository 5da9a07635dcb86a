"""Pure presentation helpers: how numbers, shapes and step positions are written on screen.

Nothing here computes a model quantity; it only decides how the engine's numbers look.
"""

from __future__ import annotations

import math
import re

import numpy as np

from stepper.roundoff import denoised, error_bound, scale_of, steady
from stepper.trace import Step, Tensor, Trace, reference_name, visible_label, visible_token

MINUS_INF = "−∞"
PLUS_INF = "+∞"
# stages whose square token×token tensors carry the attention mask's pattern
MASKED_STAGES = frozenset({"mask", "softmax", "weighted_sum"})


def dims(shape: tuple[int, ...]) -> str:
    return "[" + "×".join(str(n) for n in shape) + "]" if shape else "(scalar)"


def shape_line(step: Step, *, hide_outputs: bool = False) -> str:
    """`Q[2×4] K[2×4] → S[2×2]`: every symbol with its shape, inputs then outputs."""
    def side(tensors: dict[str, Tensor]) -> str:
        return "  ".join(f"{name}{dims(t.shape) if t.shape else ' (scalar)'}" for name, t in tensors.items())

    outputs = "?" if hide_outputs else side(step.outputs)
    return f"{side(step.inputs)}  →  {outputs}" if step.inputs else outputs  # e.g. a loss curve: nothing goes in


# bindings that state a step's result rather than what goes into it
_RESULT_BINDINGS = frozenset({"token", "p(token)", "generated", "worked", "kept"})


def given_bindings(step: Step, *, hide_results: bool = False) -> dict[str, str]:
    """The step's bound symbols; while a quiz asks about the step, only those that are inputs."""
    if not hide_results:
        return step.bindings
    return {k: v for k, v in step.bindings.items()
            if k not in _RESULT_BINDINGS and not (k.startswith("L_") and k != "L_0")}


class NumberFormat:
    """One format per matrix, so a column of numbers lines up and reads the same way. Entries are
    read without their round-off (stepper/roundoff.py): residue prints as 0, as in the export."""

    def __init__(self, values: np.ndarray):
        self.scale = scale_of(values) if values.dtype.kind == "f" else 0.0
        if values.dtype.kind == "f":
            values = denoised(values, self.scale)
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        # token ids and one-hot targets arrive as floats; whole numbers read better whole
        self.integer = values.dtype.kind in "iub" or bool(
            finite.size and finite.size == values.size and np.all(finite == np.round(finite))
            and np.max(np.abs(finite)) < 1e6 and np.any(finite != 0))
        biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
        # gradients are often all below 1e-2; fixed decimals would show them as a wall of 0.000
        self.scientific = not self.integer and (biggest >= 1e4 or 0 < biggest < 1e-2)

    def __call__(self, v: float) -> str:
        if self.integer:
            return str(int(v))
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return MINUS_INF if v < 0 else PLUS_INF
        v = steady(v, self.scale)
        if v == 0:
            return "0"
        if self.scientific:
            return f"{v:.2e}"
        # a tiny value beside large ones rounds to zero: "0.000", never "-0.000", which reads as a sign
        return f"{v:.3f}" if abs(v) >= 5e-4 else "0.000"


def number(v: float) -> str:
    """A lone number (loss, error, tolerance) in the fewest characters that stay exact enough."""
    if math.isinf(v):
        return MINUS_INF if v < 0 else PLUS_INF
    if v == 0:
        return "0"
    return f"{v:.3g}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4f}".rstrip("0").rstrip(".")


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


PHASE_WORDS = {"forward": "Forward", "backward": "Backward", "update": "Training", "generate": "Generation"}


def phase_word(step: Step) -> str:
    return PHASE_WORDS.get(step.phase, step.phase.title())


def spoiler_free(step: Step) -> str:
    """The title without what it gives away: a sample step's title names the token drawn."""
    return step.title.split(" → ")[0] if step.phase == "generate" else step.title


visible = visible_token  # the TUI's short name for it
label = visible_label  # a row or column label: a token, or `token@position`


def joined(tokens: list[str]) -> str:
    """Tokens as text: characters run together (`to be`), words get a space between them."""
    return "".join(tokens) if all(len(t) == 1 for t in tokens) else " ".join(tokens)


def text_so_far(trace: Trace, step: Step, *, hide_new: bool = False) -> tuple[list[str], list[str]] | None:
    """(prompt, tokens generated up to this step) on a generation step; None elsewhere.

    A sample step already has its token (unless a quiz is still asking for it).
    """
    if step.phase != "generate":
        return None
    parts = step.id.split(".")
    if len(parts) > 2 and parts[1].isdigit():
        n = int(parts[1])
        upto = n if parts[2] == "sample" and not hide_new else n - 1
    else:
        upto = 0 if parts[-1] == "prefill" else len(trace.generated)
    return list(trace.tokens), list(trace.generated[:upto])


def where(step: Step) -> str:
    """`Layer 0 · head 1`, or "" for steps outside the layers."""
    parts = []
    if step.layer is not None:
        parts.append(f"Layer {step.layer}")
    if step.head is not None:
        parts.append(f"head {step.head}")
    return " · ".join(parts)


def formula_lines(step: Step) -> list[str]:
    """The plain formula split at its top-level separators, one equation per line."""
    text = step.own_formula()
    for sep in (";  ", ",  "):
        text = text.replace(sep, "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def axis_caption(step: Step, tensor: Tensor) -> str:
    """What the rows and columns of a table are, in the learner's words."""
    rows, cols = tensor.rows, tensor.cols
    if rows and cols and rows == cols and step.head is not None:
        return "query × key"
    return ""


def head_note(step: Step, tensor: Tensor) -> str:
    return f"head {step.head}" if step.head is not None and tensor.index else ""


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


def verdict(step: Step) -> str:
    """`✓`, `✗` or `·` (not checked yet, or nothing in it has a reference value)."""
    if step.check is None or not step.check.compared:
        return "·"
    return "✓" if step.check.ok else "✗"


def check_line(step: Step) -> str:
    c = step.check
    if c is None:
        return "· not checked yet (the PyTorch reference is being computed)"
    if not c.compared:
        return "· nothing to check: no output here has an independent reference value"
    ours = f"max |ours − {reference_name(step.phase, c)}|"
    if c.ok:  # a pass is round-off, which differs between machines: a bound, as the export writes it
        return f"✓ {ours} {error_bound(c.max_abs_err)} (tolerance {c.tolerance_text(number)})"
    # the place to look when it fails, written without spaces ("dQ[0,3]") so that a wrapped line
    # never splits the index
    where = re.sub(r" \[([\d, ]+)\]$", lambda m: "[" + m.group(1).replace(" ", "") + "]", c.worst)
    return f"✗ OFF: {ours} = {number(c.max_abs_err)} (tolerance {c.tolerance_text(number)}) · worst at {where}"
