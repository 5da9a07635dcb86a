"""A scenario's cost in FLOPs and bytes, for training and for inference (docs/cost.md).

Built on the plan of cost.py: the same Ops, summed into what a learner asks about: the parameters,
the activations kept for the backward pass, the gradients, the optimizer's state and a decoder's
KV cache. `budget(scenario, t=…, d_model=…)` prices the same scenario at another length or width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stepper.scenario.cost import Op, forward_ops
from stepper.scenario.cost_rules import BYTES
from stepper.scenario.params import count, n_outputs, param_specs
from stepper.scenario.types import ModelConfig

# the numbers an optimizer keeps per parameter: momentum its velocity, Adam two moment estimates
STATE_PER_PARAM = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


@dataclass(frozen=True)
class Budget:
    model: ModelConfig  # the model priced (the scenario's, or a wider one)
    t: int  # positions one example reads (an mlp: the examples of its batch; a seq2seq: the target's)
    s: int  # a seq2seq's source positions, else 0
    context: int  # positions a generating model keeps keys and values for (0: no KV cache)
    n_params: int
    optimizer: str | None
    ops: tuple[Op, ...]

    @property
    def forward_flops(self) -> int:
        return sum(o.flops for o in self.ops)

    @property
    def backward_flops(self) -> int:
        return sum(o.backward for o in self.ops)

    @property
    def param_bytes(self) -> int:
        return BYTES * self.n_params

    @property
    def activation_bytes(self) -> int:
        """Every forward stage's output, kept for the backward pass (as the engine keeps them)."""
        return BYTES * sum(o.made for o in self.ops)

    @property
    def optimizer_bytes(self) -> int:
        return BYTES * self.n_params * STATE_PER_PARAM.get(self.optimizer or "sgd", 0)

    @property
    def kv_cache_bytes(self) -> int:
        """K and V, [context, d_model] each, per decoder layer (a seq2seq's also for the source)."""
        m = self.model
        if m.kind == "decoder":
            return BYTES * 2 * m.n_layers * self.context * m.d_model
        if m.kind == "seq2seq":
            return BYTES * 2 * m.n_dec_layers * (self.context + self.s) * m.d_model
        return 0

    @property
    def working_bytes(self) -> int:
        """Inference keeps no activations for a backward pass: one layer's outputs at a time, at most."""
        layers: dict = {}
        for o in self.ops:
            layers[o.layer] = layers.get(o.layer, 0) + o.made
        return BYTES * max(layers.values(), default=0)

    @property
    def training_bytes(self) -> int:
        return 2 * self.param_bytes + self.optimizer_bytes + self.activation_bytes

    @property
    def inference_bytes(self) -> int:
        return self.param_bytes + self.working_bytes + self.kv_cache_bytes


def positions(scenario) -> tuple[int, int]:
    """(t, s): the positions the model reads, as the engine does; an mlp's t is its batch."""
    if scenario.model.kind == "mlp":
        return scenario.batch or 1, 0
    reads_all_but_last = scenario.task.kind in ("next_token", "seq2seq")
    return max(len(scenario.tokens) - reads_all_but_last, 1), len(scenario.source_tokens)


def budget(scenario, *, t: int | None = None, d_model: int | None = None) -> Budget:
    """The scenario's cost; `t` or `d_model` price it at another length or width. A wider model keeps its
    ratio d_ff / d_model (and d_pos / d_model) and its heads; a longer one gets the positions it needs (`max_len`)."""
    m = scenario.model
    own_t, s = positions(scenario)
    if d_model is not None and m.kind != "mlp":
        # concatenated positions keep their share of the width, and leave the token rows at least one column
        d_pos = min(max(1, round(m.d_pos * d_model / m.d_model)), d_model - 1) if m.positional == "concat" else 0
        m = replace(m, d_model=d_model, d_ff=max(1, round(m.d_ff * d_model / m.d_model)), d_pos=d_pos)
    if t is not None and m.kind != "mlp":
        s = t if m.kind == "seq2seq" else s  # a seq2seq's source as long as its target
        m = replace(m, max_len=max(m.max_len, t + 1, s + 1))
    length = own_t if t is None else t
    task = scenario.task
    n_out = n_outputs(m, task.kind, len(task.classes), len(scenario.vocab))
    ops = forward_ops(m, length, n_out, task.kind, s=s)
    gen = scenario.generate
    context = length
    if t is None and gen is not None:  # the prompt and every token fed back in but the last one chosen
        context = len(scenario.tokens) + gen.max_new_tokens - 1
    optimizer = scenario.optim.kind if scenario.optim is not None else None
    return Budget(m, length, s, context, count(param_specs(m, len(scenario.vocab), n_out)), optimizer, tuple(ops))
