"""The typed Scenario: what a scenario file means once it has been read and checked."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

PAD = "<pad>"


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "encoder"  # encoder | decoder | mlp
    d_model: int = 4
    n_heads: int = 1
    n_layers: int = 1
    d_ff: int = 16
    activation: str = "gelu"  # relu | gelu | gelu_tanh (mlp also: none)
    norm: str = "post"  # post | pre | none
    final_norm: bool = False
    norm_eps: float = 1e-5
    positional: str = "sinusoidal"  # sinusoidal | learned | none
    max_len: int = 8
    bias: bool = True
    head_bias: bool = True
    tie_embeddings: bool = False
    pooling: str = "mean"  # mean | first | last
    attention_scale: bool = True  # divide scores by sqrt(d_k)
    sizes: tuple[int, ...] = ()  # mlp: layer widths, input first

    @property
    def d_k(self) -> int:
        return self.d_model // self.n_heads

    def as_dict(self) -> dict:
        out = asdict(self)
        out["sizes"] = list(self.sizes)
        return out


@dataclass(frozen=True)
class TaskConfig:
    kind: str = "classify"  # classify | next_token | regress
    classes: tuple[str, ...] = ()
    label: str | None = None
    target: tuple[float, ...] = ()  # regress
    labels: tuple[str, ...] = ()  # classify on a batch of examples: one true class each (empty: one example)

    @property
    def label_index(self) -> int:
        return self.classes.index(self.label)

    @property
    def label_indices(self) -> list[int]:
        return [self.classes.index(lab) for lab in self.labels]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["target"] = list(self.target)
        out["labels"] = list(self.labels)
        return out


@dataclass
class Scenario:
    name: str
    model: ModelConfig
    task: TaskConfig
    vocab: list[str]
    tokens: list[str]
    params: dict[str, np.ndarray]
    title: str = ""
    description: str = ""
    lessons: dict[str, str] = field(default_factory=dict)
    features: tuple[float, ...] = ()  # mlp input vector
    source: str = "<scenario>"

    @property
    def token_ids(self) -> list[int]:
        index = {t: i for i, t in enumerate(self.vocab)}  # not vocab.index per token: quadratic
        return [index[t] for t in self.tokens]

    def config_dict(self) -> dict:
        return {"model": self.model.as_dict(), "task": self.task.as_dict(),
                "vocab": list(self.vocab), "tokens": list(self.tokens)}
