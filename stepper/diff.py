"""Two traces side by side: steps paired by id, outputs by name, and how far apart they are.

Pure functions of two Traces. Scenarios that differ in structure (1 head vs 8, pre- vs
post-norm) still pair every step they share; the rest are listed as only-in-A / only-in-B.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stepper.roundoff import denoised, scale_of
from stepper.trace import Step, Trace


@dataclass
class OutputDiff:
    name: str
    a: np.ndarray
    b: np.ndarray | None  # None: shapes differ, so no entry-wise difference
    delta: np.ndarray | None
    max_abs: float  # inf where there is no entry-wise difference (see `comparable`): they differ, by no number
    note: str = ""

    @property
    def comparable(self) -> bool:
        """False for an output only one trace has, or of another shape: there is nothing to subtract."""
        return self.delta is not None

    def size(self, fmt) -> str:
        """`fmt(max_abs)`, or "—" where there is no number to give (an infinity would read as a blow-up)."""
        return fmt(self.max_abs) if self.comparable else "—"


@dataclass
class StepDiff:
    step_id: str
    title: str
    outputs: list[OutputDiff] = field(default_factory=list)

    @property
    def max_abs(self) -> float:
        return max((o.max_abs for o in self.outputs), default=0.0)

    def size(self, fmt) -> str:
        """The largest entry-wise change among the outputs that have one, or "—" if none has."""
        sizes = [o.max_abs for o in self.outputs if o.comparable]
        return fmt(max(sizes)) if sizes else "—"


@dataclass
class TraceDiff:
    a_name: str
    b_name: str
    paired: list[StepDiff]
    only_a: list[str]
    only_b: list[str]
    loss_a: float
    loss_b: float
    notes: list[str] = field(default_factory=list)  # where a shared step id means a different operation


def delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b − a entry-wise; equal infinities (a masked cell in both) differ by 0, not NaN."""
    with np.errstate(invalid="ignore"):
        d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    same = np.asarray(a) == np.asarray(b)
    return np.where(same, 0.0, d)


def diff_step(sa: Step, sb: Step) -> StepDiff:
    out = StepDiff(sa.id, sa.title)
    for name, ta in sa.outputs.items():
        tb = sb.outputs.get(name)
        if tb is None:
            out.outputs.append(OutputDiff(name, ta.value, None, None, float("inf"), "only in A"))
        elif ta.shape != tb.shape:
            out.outputs.append(OutputDiff(name, ta.value, tb.value, None, float("inf"),
                                          f"shape {list(ta.shape)} vs {list(tb.shape)}"))
        else:
            # what differs only by round-off does not differ: the same on every machine
            d = denoised(delta(ta.value, tb.value), max(scale_of(ta.value), scale_of(tb.value)))
            finite = np.abs(d[np.isfinite(d)])
            m = float(finite.max()) if finite.size else 0.0
            if not np.isfinite(d).all():
                m, note = float("inf"), "masked in one, not the other"
            else:
                note = ""
            out.outputs.append(OutputDiff(name, ta.value, tb.value, d, m, note))
    return out


def setting_words(value: object) -> str:
    """A model setting as a learner reads it: a switch is yes or no, an unset one "not set"
    (Python's True / False / None are not words of the scenario file)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):  # `residual`: the sublayers that keep theirs
        return " and ".join(str(v) for v in value) if value else "none"
    return "not set" if value is None else str(value)


# a setting's value where the model does not use it: written "not set"
UNUSED = {"d_pos": 0}

# what a difference in one model key does to the pairing of steps: said once, where the diff begins
STRUCTURE = {
    "norm": "pre-norm applies ln1/ln2 before each sublayer and post-norm after it, so the paired LayerNorm and "
            "residual steps read different inputs: compare them as positions, not as twins",
    "ffn": "one model's layers have no FFN sublayer: its FFN steps (and the norm that wraps them, if any) have "
           "no partner, and each later layer reads a stream the other model computed differently",
    "residual": "where a sublayer has no residual its output replaces the stream instead of being added to it: "
                "those residual steps have no partner, and everything after reads a different stream",
    "positional": "the position information differs, so the layers' input X0 differs from the first layer on",
    "d_pos": "the position vectors have another width, so the token vectors (d_model − d_pos wide) do too",
    "activation": "the FFN bends its hidden values with another curve: its activation steps compute another "
                  "function, and every step after them reads the result",
    "attention": "the attention scores are computed another way (dot products or cosine similarities), so the "
                 "score steps of the same id hold different quantities",
    "n_heads": "the heads split d_model differently, so the per-head steps hold matrices of other shapes",
}


def structure_notes(a: Trace, b: Trace) -> list[str]:
    """What differs in the two models' structure, so a reader knows when paired ids are not alike."""
    ma, mb = a.config.get("model", {}), b.config.get("model", {})
    differ = [k for k in sorted(set(ma) | set(mb)) if ma.get(k) != mb.get(k)]
    ma, mb = ({k: (None if v == UNUSED.get(k, ...) else v) for k, v in m.items()} for m in (ma, mb))
    pairs = ", ".join(f"{k} ({setting_words(ma.get(k))} vs {setting_words(mb.get(k))})" for k in differ)
    notes = [f"the models differ in {pairs}"] if differ else []
    notes += [STRUCTURE[k] for k in differ if k in STRUCTURE]
    if a.tokens != b.tokens:
        notes.append(f"the inputs differ: {' '.join(a.tokens)} vs {' '.join(b.tokens)}")
    source_a, source_b = a.config.get("source") or [], b.config.get("source") or []  # an encoder–decoder's
    if source_a != source_b:
        notes.append(f"the sources differ: {' '.join(source_a)} vs {' '.join(source_b)}")
    return notes


def diff_traces(a: Trace, b: Trace) -> TraceDiff:
    b_steps = {s.id: s for s in b.steps}
    a_ids = {s.id for s in a.steps}
    paired = [diff_step(s, b_steps[s.id]) for s in a.steps if s.id in b_steps]
    only_a, only_b = [s.id for s in a.steps if s.id not in b_steps], [s.id for s in b.steps if s.id not in a_ids]
    notes = structure_notes(a, b)
    first = next((sd for sd in paired if sd.max_abs != 0.0), None)
    if first is not None and (notes or only_a or only_b):
        # in a forward pass everything after the first change reads it: say where the chain starts
        notes.append(f"the first paired step that differs is `{first.step_id}` ({first.title}); the steps after "
                     "it read its output, so they differ because of it")
    return TraceDiff(a.scenario, b.scenario, paired, only_a, only_b, a.loss, b.loss, notes)
