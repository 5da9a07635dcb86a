"""Which of a step's arrays each symbol of its formula stands for, and the formula in those names.

One formula serves many steps (`Y = X · W + b` every projection, `R = X + F(X)` both residuals), so
each stage declares its symbols' roles beside the formula (`Formula.roles`, in stepper/engine/<stage>.py);
this module reads them against one step's own arrays.
"""

from __future__ import annotations

import re

from stepper.trace import Step

_NAME_CHAR = r"[A-Za-z0-9_'\u0370-\u03ff]"  # what a symbol in a formula is made of (Latin, Greek)
_GRAD_OF_INPUT = re.compile(r"d\(in (\d+)\)")


def _resolve(where: str, ins: list[str], outs: list[str]) -> str | None:
    """The array `where` (see `Formula.roles`) names in a step with these inputs and outputs, if any."""
    side, ref = where.split(" ", 1)
    names = ins if side == "in" else outs
    if ref.isdigit():
        return names[int(ref)] if int(ref) < len(names) else None
    if grad := _GRAD_OF_INPUT.fullmatch(ref):
        k = int(grad[1])
        name = f"d{ins[k]}" if k < len(ins) else None
        return name if name in names else None
    if ref.endswith("*"):
        return next((n for n in names if n.startswith(ref[:-1])), None)
    return ref if ref in names else None


def _same(symbol: str, name: str) -> bool:
    """The array is already called by the symbol (`F` is what `F(X)` names)."""
    return name in (symbol, symbol.split("(")[0])


def symbol_roles(step: Step) -> list[tuple[str, str]]:
    """(formula symbol, array) pairs for this step, leaving out those whose names already agree."""
    ins, outs = list(step.inputs), list(step.outputs)
    pairs = ((symbol, _resolve(where, ins, outs)) for symbol, where in step.formula.roles)
    return [(symbol, name) for symbol, name in pairs if name is not None and not _same(symbol, name)]


def own_formula(step: Step) -> str:
    """The plain formula written in this step's own names (`symbol_roles`): `dH = dG ⊙ [H > 0]`
    beside arrays dh, z → dz reads `dz = dh ⊙ [z > 0]`, so no symbol on screen names another array.
    One pass, so that a name swapped in is never swapped again."""
    roles = dict(symbol_roles(step))
    if not roles:
        return step.formula.plain
    alternatives = "|".join(re.escape(s) for s in sorted(roles, key=len, reverse=True))
    # a symbol is whole: not part of a longer name (`X` in `Xs`, `S` in `S'`), marks above it
    # included; ᵀ is no part of a name (`Wᵀ` is W transposed)
    pattern = re.compile(rf"(?<!{_NAME_CHAR})(?:{alternatives})(?!{_NAME_CHAR}|[\u0300-\u036f])")
    return pattern.sub(lambda m: roles[m.group(0)], step.formula.plain)


def formula_lines(step: Step) -> list[str]:
    """The plain formula in the step's own names, split at its top-level separators, one equation per line."""
    text = own_formula(step)
    for sep in (";  ", ",  "):
        text = text.replace(sep, "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]
