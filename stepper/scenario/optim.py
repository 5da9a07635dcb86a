"""`optim:` — training after the backward pass: which optimizer, how big a step, how many, on what schedule."""

from __future__ import annotations

from stepper.scenario import schema
from stepper.scenario.data import updates
from stepper.scenario.fields import section
from stepper.scenario.types import DataConfig, ModelConfig, OptimConfig, ScheduleConfig
from stepper.scenario.weights import explicit
from stepper.scenario.yamlread import Located

OPT = ("optim",)
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01}  # torch.optim.AdamW's default; the others' is 0


def optim_config(doc: Located, raw: dict, specs: dict, model: ModelConfig, data: DataConfig | None = None) -> OptimConfig:
    """`raw` has passed its section's checks (keys, types, ranges, keys for this kind).

    The velocity is checked like `weights.values`: names of this model's parameters, exact shapes.
    `epochs: E` resolves to E × ⌈N / batch_size⌉ updates (`steps`), and is kept as written.
    """
    velocity = {name: explicit(doc, (*OPT, "velocity", name), name, given, specs, model)
                for name, given in raw["velocity"].items()}
    schedule = section(doc, (*OPT, "schedule"), raw["schedule"], schema.SCHEDULE)
    steps, epochs = raw["steps"], raw["epochs"]
    if epochs is not None:
        if doc.has((*OPT, "steps")):
            raise doc.error((*OPT, "epochs"), "give `epochs:` or `steps:`, not both — `epochs: E` means E passes "
                                              "over the examples; delete one", key=True)
        steps = updates(data, epochs)
        if steps > schema.MAX_STEPS:
            per = steps // epochs
            raise doc.error((*OPT, "epochs"), f"`epochs: {epochs}` × {per} batches per epoch = {steps:,} updates, "
                                              f"over the {schema.MAX_STEPS:,} an optim may run — use `epochs: "
                                              f"{max(1, schema.MAX_STEPS // per)}` or fewer, or a larger "
                                              "`data.batch_size`")
    decay = raw["weight_decay"]
    return OptimConfig(kind=raw["kind"], lr=raw["lr"], momentum=raw["momentum"], beta1=raw["beta1"],
                       beta2=raw["beta2"], eps=raw["eps"], steps=steps, epochs=epochs,
                       weight_decay=DEFAULT_WEIGHT_DECAY.get(raw["kind"], 0.0) if decay is None else decay,
                       clip_grad_norm=raw["clip_grad_norm"], schedule=ScheduleConfig(**schedule), velocity=velocity)
