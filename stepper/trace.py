"""The Trace: the one thing the engine produces and every view (TUI, markdown, JSON) reads.

Numpy only. A Trace is what the engine returns and nothing changes it afterwards: verdicts
(stepper/verify/verdicts.py), quiz answers and a what-if label travel beside it, as arguments.
A Trace is an ordered list of Steps; a Step names its inputs and outputs as labelled arrays. Arrays are shared with the engine (views, not copies), so a step costs
almost nothing to record even for large models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Formula:
    """How one stage is written: plain text for terminals, LaTeX for markdown.

    `roles` says which of a step's arrays each generic symbol stands for, where one formula serves
    many steps (`Y = X · W + b` every projection): (symbol, where) pairs, `where` being `in 0` /
    `out 0` (by position), `in y` / `out dS` (by name), `out d(in 2)` (the output named d + input
    2's name) or `out db*` (the first output whose name starts so). Read by stepper/present/roles.py.
    """

    plain: str
    latex: str
    meaning: str
    roles: tuple[tuple[str, str], ...] = ()


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


@dataclass(eq=False)  # a Step is itself, not its contents: hashable, so views can cache what they make of it
class Step:
    id: str
    phase: str  # "forward" | "backward" | "update" | "generate"
    stage: str  # the engine module that computed it, e.g. "softmax"
    title: str
    formula: Formula
    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]
    layer: int | None = None
    head: int | None = None
    # the step's settings as the engine recorded them, e.g. {"d_k": "4", "√d_k": "2"}: numbers at 6
    # significant digits (roundoff.six_digits), names, and the sampler's choices
    bindings: dict[str, str] = field(default_factory=dict)
    lesson: str | None = None
    # the last part of the id: `sample` in gen.3.sample, `curve` in upd.curve, `W_Q` in upd.W_Q
    part: str = ""
    # generation: the token (1, 2, …) whose logits or choice this step makes; gen.prefill makes token 1's
    token: int | None = None
    # an encoder–decoder's step: its stack ("enc" | "dec"), and within a layer its block ("attn", "self",
    # "cross", "ffn": the sublayer its residual and norm belong to); "" elsewhere (engine/record.place_of)
    stack: str = ""
    block: str = ""

    @property
    def meaning(self) -> str:
        return self.lesson or self.formula.meaning


@dataclass(frozen=True)
class Divergence:
    """Where training first made a number that is not finite (inf or NaN)."""

    update: int  # the updates applied before it (0: the scenario's own weights made it)
    step_id: str  # the first step whose output holds it, in the pass that update led to ("": none alone)
    step_title: str
    lr: float  # the learning rate of the update that could not be taken
    example: int | None = None  # training on a data set: the example (0-based, in data.examples) that made it
    line: int | None = None  # where that example stands in the scenario file


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
    # the scenario's own quiz questions ({step, ask, answer, tolerance?, why?})
    quiz: list[dict] = field(default_factory=list)
    # ScenarioWarnings (file, line, col, message; printed `FILE:LINE:COL: warning: …`) found once the
    # steps were known (see scenario/step_names.py): printed by the CLI, shown by the app
    warnings: list = field(default_factory=list)
    # training that overflowed: where the first inf or NaN was made (None when every loss is finite)
    diverged: Divergence | None = None
    # training (scenarios with `optim:`): every update's figures, the parameters after each (trainer.py)
    training: TrainingLog | None = None
    # the command line's generation flags where they differ from the file (e.g. "--temperature 0.7")
    overrides: str = ""
    # `tokenizer: bpe`: what it learned ({kind, vocab_size, merges, …}: LearnedBpe.as_dict); {} otherwise
    tokenizer: dict = field(default_factory=dict)

    def index_of(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def generation_step(self, token: int, part: str) -> Step | None:
        """Token `token`'s generation step of `part` (e.g. "temperature"); None when it has none."""
        return next((s for s in self.steps if s.phase == "generate" and s.token == token and s.part == part), None)

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


@dataclass
class TrainingLog:
    """What training on a data set did, update by update (stepper/engine/trainer.py makes it).

    Per update t (0-based; n = the updates that ran: all of them, or up to and including the one that
    stopped training): the loss of its batch with the weights before it, the learning rate it used, the
    total gradient L2 norm before clipping and the same norm per layer (trace_keys.layer_group: `embed`,
    `layers.{i}`, `head`; the per-layer norms' squares add up to the total's), its batch's example
    indices, and every parameter after it.
    Per validation (after each epoch's last update, and after the last update when that ends part-way
    through an epoch; none after an update that stopped training): the loss over the whole validation set
    and, for classify, the fraction right. An update that stopped training changed nothing: its row of
    param_history repeats the one before."""

    batch_losses: np.ndarray  # [n]
    lr: np.ndarray  # [n]
    grad_norm: np.ndarray  # [n]
    val_loss: np.ndarray  # [V]
    val_accuracy: np.ndarray  # [V], empty unless the task is classify
    val_after: np.ndarray  # [V] int: the update after which each validation ran
    param_names: list[str]  # the scenario's parameter order: the columns of param_history
    param_history: np.ndarray  # [n, P] float64: all parameters flattened, in param_names order, after each update
    trained: dict[str, np.ndarray]  # every parameter after the last update
    running: dict  # BatchNorm's running statistics after training ({} without BatchNorm)
    first_grads: dict[str, np.ndarray]  # dLoss/dθ of update 0, before weight decay and clipping
    stopped_at: int | None  # the update whose loss or gradient was not finite; its parameters are unchanged
    batches: list[np.ndarray]  # [n] each update's example indices, in batch order
    dropout_seed: int  # masks of update t come from numpy.random.default_rng([dropout_seed, t])
    # per group of parameters (trace_keys.layer_group), in parameter order: [n] the L2 norm of that
    # group's dLoss/dθ before weight decay and clipping
    layer_grad_norm: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def updates(self) -> int:
        return len(self.batch_losses)

    def params_after(self, t: int) -> dict[str, np.ndarray]:
        """Every parameter after update t, by name (views of param_history's row t)."""
        out, start = {}, 0
        for name in self.param_names:
            shape = self.trained[name].shape
            size = int(np.prod(shape, dtype=np.int64))
            out[name] = self.param_history[t, start:start + size].reshape(shape)
            start += size
        return out
