"""Tokens, row and column labels, and shapes, as they are written on screen and in the export."""

from __future__ import annotations

from stepper.trace import Step, Tensor


def visible_token(token: str) -> str:
    """A whitespace-only token (a character model's space or newline) as something one can see."""
    if token and not token.strip():
        return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥")
    return token


def visible_label(label: str) -> str:
    """A row or column label with its token made visible: a token (`visible_token`) or, for the
    KV cache's rows, `token@position`. The one rule every table (screen and markdown) labels by."""
    token, at, position = label.rpartition("@")
    if at and position.isdigit():
        return visible_token(token) + at + position
    return visible_token(label)


def joined(tokens: list[str]) -> str:
    """Tokens as text: characters run together (`to be`), words get a space between them."""
    return "".join(tokens) if all(len(t) == 1 for t in tokens) else " ".join(tokens)


def _bracketed(shape: tuple[int, ...]) -> str:
    return "[" + "×".join(str(n) for n in shape) + "]"


def dims(shape: tuple[int, ...]) -> str:
    """The app's shape: `[2×4]`, or `(scalar)`."""
    return _bracketed(shape) if shape else "(scalar)"


def shape_text(shape: tuple[int, ...]) -> str:
    """The export's shape, after an array's name in code: `[2×4]`, or `scalar`."""
    return _bracketed(shape) if shape else "scalar"


def shape_line(step: Step, *, hide_outputs: bool = False) -> str:
    """The app's `Q[2×4]  K[2×4]  →  S[2×2]`: every symbol with its shape, inputs then outputs."""
    def side(tensors: dict[str, Tensor]) -> str:
        return "  ".join(f"{name}{dims(t.shape) if t.shape else ' (scalar)'}" for name, t in tensors.items())

    outputs = "?" if hide_outputs else side(step.outputs)
    return f"{side(step.inputs)}  →  {outputs}" if step.inputs else outputs  # e.g. a loss curve: nothing goes in


def compact_shape_line(step: Step) -> str:
    """`Q[2×4] K[2×4] → S[2×2]` on one short line: a quiz's explanation of an answer."""
    def side(tensors: dict[str, Tensor]) -> str:
        return " ".join(f"{name}{_bracketed(t.shape) if t.shape else ' (scalar)'}" for name, t in tensors.items())

    return f"{side(step.inputs)} → {side(step.outputs)}"
