"""The Trace: the one thing the engine produces and every view (TUI, markdown, JSON) reads.

Numpy only. A Trace is an ordered list of Steps; a Step names its inputs and outputs as
labelled arrays. Arrays are shared with the engine (views, not copies), so a step costs
almost nothing to record even for large models.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Formula:
    """How one stage is written: plain text for terminals, LaTeX for markdown."""

    plain: str
    latex: str
    meaning: str


@dataclass
class Tensor:
    """A named array with a label for every row and column.

    `key` says where an independent reference can find the same quantity:
    `L0.attn.Q` is an activation, `d:L0.attn.Q` its gradient dLoss/dQ,
    `d:layers.0.attn.W_Q` a parameter gradient, and `d:L0.x1<-L0.attn.Q` the part of
    dLoss/d(L0.x1) that flows back through L0.attn.Q alone. `index` selects a slice of
    the keyed quantity (the head, for per-head tensors).
    """

    symbol: str
    value: np.ndarray
    rows: list[str] | None = None
    cols: list[str] | None = None
    key: str | None = None
    index: tuple[int, ...] = ()
    # a parameter or an input the learner can edit, rather than something computed
    is_param: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)


NOTHING_TO_COMPARE = "nothing to compare"
_NAME_CHAR = r"[A-Za-z0-9_'\u0370-\u03ff]"  # what a symbol in a formula is made of (Latin, Greek)


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


@dataclass
class Check:
    """The verdict of one step against the independent reference."""

    reference: str
    max_abs_err: float
    tolerance: float
    ok: bool
    worst: str = ""  # which output/entry was furthest off, or NOTHING_TO_COMPARE
    # 1, or the size of the entry the verdict rests on (its |reference value|, when over 1 and the
    # error needed it): the allowance is then tolerance × scale, since float64 rounds large numbers
    # in larger steps (see compare.compare_values)
    scale: float = 1.0

    def tolerance_text(self, number) -> str:
        """'1e-10', or '1e-10 × 9.79e+04, the size of the numbers' when the allowance was scaled."""
        if self.scale == 1.0:
            return number(self.tolerance)
        return f"{number(self.tolerance)} × {number(self.scale)}, the size of the numbers"

    @property
    def compared(self) -> bool:
        """False for a step with no output the reference knows (nothing was compared)."""
        return self.worst != NOTHING_TO_COMPARE


def reference_name(phase: str | None, check: Check) -> str:
    """What a step of `phase` was checked against, as a learner should read it: a forward value
    comes from torch's own functions (autograd only enters for gradients), an update from torch.optim."""
    return {"forward": "torch", "generate": "torch", "update": "torch.optim"}.get(phase or "", check.reference)


@dataclass
class Step:
    id: str
    phase: str  # "forward" | "backward" | "update"
    stage: str  # the engine module that computed it, e.g. "softmax"
    title: str
    formula: Formula
    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]
    layer: int | None = None
    head: int | None = None
    # symbols bound to numbers, e.g. {"d_k": "4", "√d_k": "2"}
    bindings: dict[str, str] = field(default_factory=dict)
    lesson: str | None = None
    check: Check | None = None
    # makes the `worked` binding on first use (see engine/examples.py): a check, which shows no
    # step, need not pay for 1,800 lines of arithmetic on a large model
    make_worked: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    def worked(self) -> str | None:
        """One entry of this step worked out with its numbers (`bindings["worked"]`), made on first use."""
        if self.make_worked is not None:
            make, self.make_worked = self.make_worked, None
            line = make()
            if line is not None:
                self.bindings["worked"] = line
        return self.bindings.get("worked")

    @property
    def shapes(self) -> dict[str, list[int]]:
        return {name: list(t.shape) for name, t in self.outputs.items()}

    @property
    def meaning(self) -> str:
        return self.lesson or self.formula.meaning

    def symbol_roles(self) -> list[tuple[str, str]]:
        """(formula symbol, array) pairs where a formula shared by many steps names things its own way:
        `Y = X · W + b` serves every projection, `R = X + F(X)` both residuals, so say which arrays
        of this step play which symbol. Pairs whose names already agree are left out."""
        ins, outs = list(self.inputs), list(self.outputs)
        pairs: list[tuple[str, str]] = []
        if self.stage == "linear" and "embed.tok" in ins:
            pairs = []  # the tied head has a formula of its own, written with this step's own names
        elif self.stage == "linear" and self.phase == "forward" and len(ins) >= 2:
            pairs = [*zip(("X", "W", "b"), ins, strict=False), *(("Y", n) for n in outs[:1])]
        elif self.stage == "linear" and self.phase == "backward" and len(ins) >= 3:
            dy, x, w = ins[:3]
            pairs = [("dY", dy), ("X", x), ("W", w)]
            pairs += [(generic, name) for generic, name in (("dW", f"d{w}"), ("dX", f"d{x}")) if name in outs]
            pairs += [("db", name) for name in outs if name.startswith("db")][:1]
        elif self.stage == "residual" and self.phase == "forward" and len(ins) == 2:
            pairs = [("F(X)", ins[1])] if ins[1] != "F" else []
        elif self.stage == "residual" and self.phase == "backward" and outs:
            pairs = [("dF", outs[0])]
        elif self.stage == "mask" and self.phase == "forward" and "S" in ins:  # no 1/√d_k step before it
            pairs = [("S'", "S")]
        elif self.stage == "mask" and self.phase == "backward" and outs == ["dS"]:
            pairs = [("dS'", "dS")]
        elif self.stage == "softmax" and self.phase == "forward" and ins:  # S here is what the mask left
            pairs = [("S", ins[0])]
        elif self.stage == "softmax" and self.phase == "backward" and outs:
            pairs = [("dS", outs[0])]
        elif self.stage == "loss" and self.phase == "backward" and ins[1:2] == ["y"] and outs:
            pairs = [("onehot(target)", "y"), ("dlogits", outs[0])]
        elif self.stage == "embedding" and self.phase == "backward" and outs:
            pairs = [("d embed.tok", outs[0])]
        elif self.stage == "activation" and self.phase == "forward" and ins and outs:  # the mlp's z → h
            pairs = [("H", ins[0]), ("G", outs[0])]
        elif self.stage == "activation" and self.phase == "backward" and len(ins) == 2 and outs:
            pairs = [("dG", ins[0]), ("H", ins[1]), ("dH", outs[0])]
        return [(symbol, name) for symbol, name in pairs if symbol != name]

    def own_formula(self) -> str:
        """The plain formula written in this step's own names (`symbol_roles`): `dH = dG ⊙ [H > 0]`
        beside arrays dh, z → dz reads `dz = dh ⊙ [z > 0]`, so no symbol on screen names another array.
        One pass, so that a name swapped in is never swapped again."""
        roles = dict(self.symbol_roles())
        if not roles:
            return self.formula.plain
        alternatives = "|".join(re.escape(s) for s in sorted(roles, key=len, reverse=True))
        # a symbol is whole: not part of a longer name (`X` in `Xs`, `S` in `S'`), marks above it
        # included; ᵀ is no part of a name (`Wᵀ` is W transposed)
        pattern = re.compile(rf"(?<!{_NAME_CHAR})(?:{alternatives})(?!{_NAME_CHAR}|[\u0300-\u036f])")
        return pattern.sub(lambda m: roles[m.group(0)], self.formula.plain)

    def shape_line(self) -> str:
        """`[2×4]·[4×2] → [2×2]`-style summary of what goes in and out."""
        def fmt(t: Tensor) -> str:
            return "[" + "×".join(str(n) for n in t.shape) + "]" if t.shape else " (scalar)"

        ins = " ".join(f"{n}{fmt(t)}" for n, t in self.inputs.items())
        outs = " ".join(f"{n}{fmt(t)}" for n, t in self.outputs.items())
        return f"{ins} → {outs}"


@dataclass(frozen=True)
class Divergence:
    """Where training first made a number that is not finite (inf or NaN)."""

    update: int  # the update whose result first held it (0: the scenario's own weights)
    step_id: str  # the first step whose output holds it, in the pass that update led to
    step_title: str
    lr: float

    def words(self) -> str:
        when = "the scenario's own weights" if self.update == 0 else f"update {self.update}"
        return (f"{when[0].upper()}{when[1:]} led to the first number that is not finite (inf or NaN), made at step {self.step_id} "
                f"({self.step_title}); every loss after it is meaningless. Try a lower lr than {self.lr:g}, "
                "or clip the gradients.")


def _name_of(step: Step, tensor: Tensor) -> str | None:
    """The name `step` shows `tensor` under."""
    return next((name for name, t in step.inputs.items() if t is tensor), None)


@dataclass
class Trace:
    scenario: str
    title: str
    config: dict
    steps: list[Step]
    loss: float
    logits: np.ndarray
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    tokens: list[str] = field(default_factory=list)
    description: str = ""
    # training (scenarios with `optim:`): the loss before and after each update, and the final weights
    losses: list[float] = field(default_factory=list)
    trained: dict[str, np.ndarray] = field(default_factory=dict)
    # generation (decoder scenarios with `generate:`): the tokens produced after the prompt
    generated: list[str] = field(default_factory=list)
    # the scenario's own quiz questions ({step, ask, answer, tolerance?, why?}), and answers given so far
    quiz: list[dict] = field(default_factory=list)
    quiz_results: list = field(default_factory=list)  # [(Question, Verdict)]
    # answers given in the same session on another version of these steps (the original, or another
    # what-if edit), [(Question, Verdict, "on what")]: listed in the quiz section, never beside a step
    quiz_elsewhere: list = field(default_factory=list)
    # a what-if trace: the edit it was recomputed after (e.g. "W_Q[d0,d0] 0.175 → 3"); "" for the scenario as written
    whatif: str = ""
    # ScenarioWarnings (file, line, col, message; printed `FILE:LINE:COL: warning: …`) found once the
    # steps were known (see scenario/step_names.py): printed by the CLI, shown by the app
    warnings: list = field(default_factory=list)
    # training that overflowed: where the first inf or NaN was made (None when every loss is finite)
    diverged: Divergence | None = None
    # the command line's generation flags where they differ from the file (e.g. "--temperature 0.7")
    overrides: str = ""

    def stale_lesson(self, step: Step | None) -> str:
        """Why the lesson at `step` may quote numbers other than those shown ("" when it quotes these):
        a what-if edit changes every step; generation flags change only the generation steps."""
        if self.whatif:
            return "written for the original numbers, before the what-if edit"
        if self.overrides and step is not None and step.phase == "generate":
            return f"written for the scenario's own generation settings, not {self.overrides}"
        return ""

    def index_of(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def first_backward(self) -> int:
        return next((i for i, s in enumerate(self.steps) if s.phase == "backward"), 0)

    def sources_of(self, index: int, tensor: Tensor) -> list[int]:
        """The steps before `index` that made `tensor`: the latest one with an output of the same key
        and the same part of it (one head's slice, or the whole); for a whole that was made piece by
        piece (one head per step), the latest maker of each piece, in order. Empty for parameters,
        unkeyed arrays and the scenario's own inputs."""
        if tensor.key is None or tensor.is_param:
            return []
        pieces: dict[str, int] = {}
        for i in range(index - 1, -1, -1):
            for made in self.steps[i].outputs.values():
                if made.key != tensor.key:
                    continue
                if made.index == tensor.index or not made.index:
                    return sorted(pieces.values()) if pieces else [i]
                if not tensor.index:
                    pieces.setdefault(repr(made.index), i)  # slices are unhashable before 3.12
        return sorted(pieces.values())

    def made_by(self, index: int, tensor: Tensor, *, titled: bool = False) -> str:
        """'from step 38' ('… (Through Q·Kᵀ)' when `titled`), 'from steps 40, 47, one per head', or ''
        for an input no step made: the words the TUI and the export put beside an input. Where the
        step that made it called it otherwise, that name too ('from step 24, as dh')."""
        sources = self.sources_of(index, tensor)
        if len(sources) == 1:
            title = f" ({self.steps[sources[0]].title})" if titled else ""
            made = [name for name, t in self.steps[sources[0]].outputs.items() if t.key == tensor.key]
            called = f", as {made[0]}" if made and _name_of(self.steps[index], tensor) not in made else ""
            return f"from step {sources[0] + 1}{title}{called}"
        return f"from steps {', '.join(str(i + 1) for i in sources)}, one per head" if sources else ""

    @property
    def verified(self) -> bool:
        return all(s.check is not None and s.check.ok for s in self.steps)
