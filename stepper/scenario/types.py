"""The typed Scenario: what a scenario file means once it has been read and checked."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from stepper.scenario.bpe import LearnedBpe

PAD = "<pad>"
BOS, EOS = "<bos>", "<eos>"  # seq2seq: the target starts with BOS; EOS marks where it ends
SUBLAYERS = ("attention", "ffn")  # a one-sequence block's sublayers, as `model.residual` names them


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "encoder"  # encoder | decoder | seq2seq | mlp
    d_model: int = 4
    n_heads: int = 1
    n_layers: int = 1
    d_ff: int = 16
    activation: str = "gelu"  # relu | gelu | gelu_tanh | tanh | sigmoid | square | exp | none
    norm: str = "post"  # post | pre | none
    final_norm: bool = False
    norm_eps: float = 1e-5
    ffn: bool = True  # a feed-forward sublayer in each block
    residual: tuple[str, ...] = SUBLAYERS  # the sublayers whose output is added to their input (the rest replace it)
    positional: str = "sinusoidal"  # sinusoidal | learned | none | concat (encoder, decoder)
    max_len: int = 8
    d_pos: int = 0  # concat: the sinusoids' width beside the token rows (resolved: d_model // 2 when not given); else 0
    bias: bool = True
    head_bias: bool = True
    tie_embeddings: bool = False
    pooling: str = "mean"  # mean | first | last
    attention_scale: bool = True  # divide scores by sqrt(d_k)
    attention: str = "dot"  # dot | cosine: scores of unit-length Q and K rows, divided by attention_temperature
    attention_temperature: float = 0.1  # τ of cosine attention (dot attention divides by sqrt(d_k) instead)
    sizes: tuple[int, ...] = ()  # mlp: layer widths, input first
    n_dec_layers: int = 0  # seq2seq: decoder layers (resolved: n_layers when the file does not say); else 0
    norm_type: str = "layer"  # layer | batch: what ln1 / ln2 / ln_f are (BatchNorm: statistics over the batch)
    dropout: float = 0.0  # training only: on attention weights and on each sublayer's output before its residual add

    @property
    def d_k(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_tok(self) -> int:
        """The width of embed.tok's rows: d_model, less the concatenated positions' d_pos."""
        return self.d_model - self.d_pos

    def as_dict(self) -> dict:
        out = asdict(self)
        out["sizes"] = list(self.sizes)
        out["residual"] = list(self.residual)
        return out

    def keeps_residual(self, sublayer: str) -> bool:
        """Whether `sublayer` ("attention", "ffn") adds its output to its input, or replaces the stream."""
        return sublayer in self.residual


@dataclass(frozen=True)
class TaskConfig:
    kind: str = "classify"  # classify | next_token | regress | seq2seq (teacher forcing)
    classes: tuple[str, ...] = ()
    label: str | None = None
    # regress: [n_out] for one example, or one row of n_out per example ([B, n_out]) for a batch
    target: tuple[float, ...] | tuple[tuple[float, ...], ...] = ()
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
        out["target"] = [list(t) if isinstance(t, tuple) else t for t in self.target]
        out["labels"] = list(self.labels)
        return out


@dataclass(frozen=True)
class ScheduleConfig:
    """`optim.schedule:` — the learning-rate multiplier of update t (the `transformers` schedules)."""

    kind: str = "constant"  # constant | linear | cosine
    warmup: int = 0  # updates whose multiplier rises linearly from 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OptimConfig:
    """`optim:` — training after the backward pass (stepper/engine/train.py)."""

    kind: str = "sgd"  # sgd | momentum | adam | adamw
    lr: float = 0.1  # the learning rate α, > 0
    momentum: float = 0.9  # β of kind momentum: v ← β·v + g, w ← w − α·v
    beta1: float = 0.9  # adam
    beta2: float = 0.999  # adam
    eps: float = 1e-8  # adam
    steps: int = 1  # updates to run (resolved from `epochs` when the file gives that); the first is recorded
    epochs: int | None = None  # as written, when the file gives epochs instead of steps
    weight_decay: float = 0.0  # adamw: decoupled (default 0.01); the others: L2 added to the gradient
    clip_grad_norm: float | None = None  # the largest total gradient norm an update may use
    schedule: ScheduleConfig = ScheduleConfig()
    # kind momentum: the initial velocity of any subset of the parameters, by name (others start at 0)
    velocity: dict[str, np.ndarray] = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["velocity"] = {name: v.tolist() for name, v in self.velocity.items()}
        out["schedule"] = self.schedule.as_dict()
        return out


@dataclass(frozen=True)
class Example:
    """One example of `data:`: tokens (transformers) or features (mlp), and what it should give."""

    tokens: tuple[str, ...] = ()  # encoder / decoder, already tokenized; seq2seq: the target (<bos> … <eos>)
    source: tuple[str, ...] = ()  # seq2seq: the source sequence the encoder reads
    label: str | None = None  # classify
    features: tuple[float, ...] = ()  # mlp
    target: tuple[float, ...] = ()  # mlp regress
    line: int = 0  # where the example stands in the file (1-based), for messages

    def as_dict(self) -> dict:
        out: dict = {"tokens": list(self.tokens)} if self.tokens else {"features": list(self.features)}
        if self.source:
            out["source"] = list(self.source)
        if self.label is not None:
            out["label"] = self.label
        if self.target:
            out["target"] = list(self.target)
        return out


@dataclass(frozen=True)
class DataConfig:
    """`data:` — the training set (and an optional validation set) the optimizer walks through."""

    examples: tuple[Example, ...]
    validation: tuple[Example, ...] = ()
    batch_size: int = 1  # resolved: all the examples when the file does not say
    shuffle: bool = False  # epoch e takes numpy.random.default_rng(seed + e).permutation(N)
    seed: int = 0

    def as_dict(self) -> dict:
        return {"examples": [e.as_dict() for e in self.examples],
                "validation": [e.as_dict() for e in self.validation],
                "batch_size": self.batch_size, "shuffle": self.shuffle, "seed": self.seed}


@dataclass(frozen=True)
class GenerateConfig:
    """`generate:` — a decoder continues its tokens (stepper/engine/generate.py)."""

    max_new_tokens: int = 5
    temperature: float = 1.0  # 0: greedy
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1.0: off
    seed: int = 0  # the uniform draws that pick each token
    greedy: bool = False  # always take the most likely token

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Scenario:
    name: str
    model: ModelConfig
    task: TaskConfig
    vocab: list[str]
    tokens: list[str]  # seq2seq: the target sequence, <bos> first; the decoder reads [:-1] and predicts [1:]
    params: dict[str, np.ndarray]
    title: str = ""
    description: str = ""
    lessons: dict[str, str] = field(default_factory=dict)
    # mlp: one input vector [sizes[0]], or a batch of them, one row per example [B, sizes[0]]
    features: tuple[float, ...] | tuple[tuple[float, ...], ...] = ()
    source: str = "<scenario>"
    optim: OptimConfig | None = None
    data: DataConfig | None = None
    generate: GenerateConfig | None = None
    # the command line's generation flags that differ from the file, as typed (e.g. "--top-k 3")
    overrides: str = ""
    # the author's own questions: {step, ask, answer, tolerance, why} each, in file order
    quiz: tuple[dict, ...] = ()
    # seq2seq: the source sequence the encoder reads (`input.source`; one vocab for source and target)
    source_tokens: list[str] = field(default_factory=list)
    # `tokenizer: bpe`: the merges it learned (the tokens and the vocab are its pieces); None for word and char
    bpe: LearnedBpe | None = None
    # where some keys stand in the file ("generate.top_p" → (line, col)), for errors found after loading
    marks: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def batch(self) -> int | None:
        """The number of examples of an mlp batch; None for one example (or a transformer)."""
        return len(self.features) if self.features and isinstance(self.features[0], tuple) else None

    @property
    def token_ids(self) -> list[int]:
        index = {t: i for i, t in enumerate(self.vocab)}  # not vocab.index per token: quadratic
        return [index[t] for t in self.tokens]

    def config_dict(self) -> dict:
        out = {"model": self.model.as_dict(), "task": self.task.as_dict(),
               "vocab": list(self.vocab), "tokens": list(self.tokens)}
        if self.source_tokens:
            out["source"] = list(self.source_tokens)
        if self.optim is not None:
            out["optim"] = self.optim.as_dict()
        if self.data is not None:
            out["data"] = self.data.as_dict()
        if self.generate is not None:
            out["generate"] = self.generate.as_dict()
        return out
