"""The worked line of a step: one of its numbers worked out, as the app shows it under the formula
(`e.g.`) and the export prints it (`Worked out`, and `worked` among the JSON's bindings).

Made on first use and kept in a cache keyed by the step, not in the step: a check, which shows no
step, never pays for the arithmetic (1,800 lines of it on a large model), and nothing changes a Step
once the engine has returned. The arrays are final by then, so the line reads the same whenever it
is made.
"""

from __future__ import annotations

import weakref

from stepper.present.captions import shown_bindings
from stepper.present.exact_zeros import exact_zero_note
from stepper.present.numbers import six_digits
from stepper.present.perplexity import meaning
from stepper.present.worked_entries import entry_line
from stepper.trace import Step

_MADE: weakref.WeakKeyDictionary[Step, str | None] = weakref.WeakKeyDictionary()


def worked_line(step: Step) -> str | None:
    """The step's worked line, or None when it has none (a layout no line is known for)."""
    try:
        return _MADE[step]
    except KeyError:
        line = _update_line(step) if step.phase == "update" else (
            _perplexity_line(step) if "PPL" in step.outputs else _entry_and_note(step))
        _MADE[step] = line
        return line


def bindings_with_worked(step: Step) -> dict[str, str]:
    """The step's bindings as shown and, last, its worked line: what the JSON export records under `bindings`."""
    line = worked_line(step)
    shown = shown_bindings(step)
    return {**shown, "worked": line} if line is not None else shown


def _entry_and_note(step: Step) -> str | None:
    """A forward or backward entry worked out; after it, why a gradient is zero in exact arithmetic."""
    line = entry_line(step.phase, step.stage, step.inputs, step.outputs, step.bindings)
    note = exact_zero_note(step.phase, step.inputs, step.outputs)
    return ". ".join(filter(None, [line, note])) or None


def _perplexity_line(step: Step) -> str:
    """The loss step's perplexity from its loss, and what it means for this many choices."""
    loss = float(step.outputs["L"].value)
    logits = next(iter(step.inputs.values()), None)
    choices = logits.shape[-1] if logits is not None and logits.shape else None
    return f"PPL = e^{six_digits(loss)} = {six_digits(float(step.outputs['PPL'].value))}: {meaning(loss, choices)}"


def _update_line(step: Step) -> str | None:
    """A single weight's update spelled out, as one would on paper; a larger array has none (the
    export works its largest entry out in a table instead). The optimizer is told by its settings:
    momentum records β, Adam β₁."""
    if "w" not in step.inputs or step.inputs["w"].value.size != 1 or "w'" not in step.outputs:
        return None

    def at(tensors, name: str) -> str:
        return six_digits(float(tensors[name].value.flat[0]))

    ins, outs, b = step.inputs, step.outputs, step.bindings
    w, w_new = at(ins, "w"), at(outs, "w'")
    if "β" in b:
        v_new = at(outs, "v'")
        return (f"v = {b['β']}·{at(ins, 'v')} + {at(ins, 'g')} = {v_new};  "
                f"w = {w} − {b['α']}·{v_new} = {w_new}")
    if "β₁" not in b:
        return f"w = {w} − {b['α']}·{at(ins, 'g')} = {w_new}"
    return f"w = {w} → {w_new}"
