"""Every key a scenario may hold: its type, default, allowed values and range.

One table serves the loader, the error messages (allowed values, did-you-mean, examples) and
the documentation test that keeps docs/scenario-format.md complete.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSFORMER = ("encoder", "decoder", "seq2seq")
ONE_SEQUENCE = ("encoder", "decoder")  # the transformers that read one sequence (seq2seq reads two)
MAX_SEED = 2**32 - 1


class Word:
    """Any plain scalar, kept as the text written: `no` stays "no", `010` stays "010"."""


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: object = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    required: bool = False
    doc: str = ""
    example: str = ""  # shown in "how to fix" when the default cannot serve as one
    # the kinds this key applies to (empty: all): model kinds for the sections of the model,
    # optimizer kinds for `optim:`; a key given for another kind is an error
    only: tuple[str, ...] = ()
    # "low" / "high": that end of [low, high] is not allowed itself (lr > 0, momentum < 1)
    open: tuple[str, ...] = ()

    def sample(self) -> str:
        """A value to show in an error's "e.g. `key: …`"."""
        if self.example:
            return self.example
        if self.choices:
            return str(self.choices[0])
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return "" if self.default in (None, "", [], {}, ()) else str(self.default)

    def in_range(self, value: float) -> bool:
        if self.low is None:
            return True
        low_ok = value > self.low if "low" in self.open else value >= self.low
        high_ok = value < self.high if "high" in self.open else value <= self.high
        return low_ok and high_ok

    def range_text(self, whole: bool) -> str:
        """`a whole number from 1 to 256`, `a number above 0, up to 100`, `a number from 0 to 1, below 1`."""
        what = "a whole number" if whole else "a number"
        low, high = _num(self.low), _num(self.high)
        if "low" in self.open and "high" in self.open:
            return f"{what} between {low} and {high}, not {low} or {high} themselves"
        if "low" in self.open:
            return f"{what} above {low}, up to {high}"
        if "high" in self.open:
            return f"{what} from {low} to {high}, below {high}"
        return f"{what} from {low} to {high}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


TOP = {
    "name": Key(Word, required=True, doc="identifier: letters a-z, digits, `_` and `-`", example="my-model"),
    "title": Key(Word, "", doc="one line for humans", example='"my first encoder"'),
    "description": Key(Word, "", doc="a paragraph shown above the trace", example='"what this shows"'),
    "model": Key(dict, required=True, doc="the architecture", example="kind: encoder"),
    "input": Key(dict, {}, doc="vocabulary and tokens (or `features` for an mlp)", example="tokens: [I, am]"),
    "task": Key(dict, {}, doc="what the loss measures", example="kind: classify"),
    "weights": Key(dict, {}, doc="seed, init and explicit values", example="seed: 0"),
    "lessons": Key(dict, {}, doc="text shown at the steps whose id matches a pattern",
                   example="fwd.L0.attn.softmax: Each row sums to 1."),
    "optim": Key(dict, None, doc="train after the backward pass: optimizer, learning rate, steps",
                 example="kind: sgd"),
    "data": Key(dict, None, doc="a training set (and validation set) of examples, read in batches",
                example="examples: [{text: I am happy, label: positive}]"),
    "generate": Key(dict, None, doc="decoder or seq2seq: continue the tokens, one sampled token at a time",
                    example="max_new_tokens: 5", only=("decoder", "seq2seq")),
    "quiz": Key(list, (), doc="your own questions, asked before the steps they name",
                example='[{step: fwd.loss, ask: "What is the loss?", answer: 0.69, tolerance: 0.01}]'),
}

MODEL = {
    "kind": Key(str, "encoder", ("encoder", "decoder", "seq2seq", "mlp"),
                doc="decoder = causal self-attention; seq2seq = an encoder, then a decoder with cross-attention"),
    "d_model": Key(int, 4, low=1, high=4096, doc="width of every token vector", only=TRANSFORMER),
    "n_heads": Key(int, 1, low=1, high=64, doc="attention heads; must divide d_model", only=TRANSFORMER),
    "n_layers": Key(int, 1, low=1, high=48, doc="transformer blocks (seq2seq: encoder layers)", only=TRANSFORMER),
    "n_dec_layers": Key(int, None, low=1, high=48, example="2", only=("seq2seq",),
                        doc="seq2seq: decoder layers; default: n_layers"),
    "d_ff": Key(int, 16, low=1, high=16384, doc="hidden width of the feed-forward network", only=TRANSFORMER),
    "activation": Key(str, "gelu", ("relu", "gelu", "gelu_tanh", "tanh", "sigmoid", "square", "exp", "none"),
                      doc="non-linearity of the FFN, or between mlp layers; `none`: no bend, the FFN stays linear"),
    "norm": Key(str, "post", ("post", "pre", "none"), doc="where LayerNorm sits", only=TRANSFORMER),
    "final_norm": Key(bool, False, doc="a last LayerNorm (ln_f) before the head", only=TRANSFORMER),
    "norm_eps": Key(float, 1e-5, low=0.0, high=1.0, open=("low",), only=TRANSFORMER,
                    doc="LayerNorm epsilon; above 0, so a row of equal values is not 0 / 0"),
    "ffn": Key(bool, True, only=ONE_SEQUENCE,
               doc="a feed-forward sublayer in each block; `false`: attention-only blocks (no `ffn.*`, no `ln2`)"),
    "residual": Key((bool, list), True, only=ONE_SEQUENCE, example="[attention]",
                    doc="the skip paths: `true` (both sublayers), `false` (none), or a list of the sublayers "
                        "that keep theirs, `[attention]`, `[ffn]`; without one, the sublayer's output replaces "
                        "the stream"),
    "positional": Key(str, "sinusoidal", ("sinusoidal", "learned", "none", "concat"),
                      doc="position information (concat: encoder and decoder)", only=TRANSFORMER),
    "max_len": Key(int, None, low=1, high=4096, example="8", only=TRANSFORMER,
                   doc="rows of embed.pos (learned positions); default: rows given for embed.pos, else 8"),
    "d_pos": Key(int, None, low=1, high=4095, example="2", only=ONE_SEQUENCE,
                 doc="`positional: concat`: width of the sinusoids beside the token rows; default: d_model // 2"),
    "bias": Key(bool, True, doc="biases in attention and FFN linears (mlp: in every layer)"),
    "head_bias": Key(bool, True, doc="bias of the output head", only=TRANSFORMER),
    "tie_embeddings": Key(bool, False, doc="decoder, seq2seq: logits = h · embed.tokᵀ, no head.W",
                          only=TRANSFORMER),
    "pooling": Key(str, "mean", ("mean", "first", "last"), doc="how classification pools the token vectors",
                   only=ONE_SEQUENCE),
    "attention_scale": Key(bool, True, doc="divide scores by √d_k", only=TRANSFORMER),
    "attention": Key(str, "dot", ("dot", "cosine"), only=ONE_SEQUENCE,
                     doc="scores as dot products, or as cosines of unit-length query and key rows"),
    "attention_temperature": Key(float, 0.1, low=0.0, high=100.0, open=("low",), only=ONE_SEQUENCE,
                                 doc="`attention: cosine`: τ, what the cosines are divided by (instead of √d_k)"),
    "sizes": Key(list, None, doc="mlp: layer widths, input first", example="[2, 2, 1]", only=("mlp",)),
    "norm_type": Key(str, "layer", ("layer", "batch"), only=TRANSFORMER,
                     doc="what ln1 / ln2 / ln_f are: LayerNorm, or BatchNorm over the batch's non-pad rows"),
    "dropout": Key(float, 0.0, low=0.0, high=1.0, open=("high",), only=TRANSFORMER,
                   doc="training updates only: the share of attention weights and sublayer outputs zeroed"),
}

INPUT = {
    "vocab": Key(list, None, doc="token strings; default: `<pad>` then the sorted distinct tokens",
                 example='["<pad>", "I", "am"]', only=TRANSFORMER),
    "tokens": Key(list, None, doc="the sequence, as vocab entries", example='["I", "am"]', only=ONE_SEQUENCE),
    "text": Key(Word, None, doc="instead of tokens: text split by `tokenizer`", example='"I am happy"',
                only=ONE_SEQUENCE),
    "source": Key(list, None, doc="seq2seq: the sequence the encoder reads", example="[I, love, pizza]",
                  only=("seq2seq",)),
    "source_text": Key(Word, None, doc="seq2seq: instead of source, text split by `tokenizer`",
                       example='"I love pizza"', only=("seq2seq",)),
    "target": Key(list, None, doc="seq2seq: the sequence the decoder produces, `<bos>` first",
                  example='["<bos>", me, gusta, "<eos>"]', only=("seq2seq",)),
    "target_text": Key(Word, None, doc="seq2seq: instead of target, text split by `tokenizer`",
                       example='"<bos> me gusta <eos>"', only=("seq2seq",)),
    "tokenizer": Key(str, "word", ("word", "char", "bpe"), only=TRANSFORMER,
                     doc="how `text` is split: at spaces, per character, or in pieces learned by byte-pair encoding"),
    "bpe": Key(dict, None, doc="`tokenizer: bpe`: the vocabulary size it learns up to", example="vocab_size: 30",
               only=TRANSFORMER),
    "features": Key(list, None, doc="mlp: the input vector, sizes[0] numbers; or a batch, one such row per example",
                    example="[1.0, -1.0]", only=("mlp",)),
}

MAX_VOCAB = 50_000  # a bpe learns at most this many pieces: a GPT-2-sized vocabulary
BPE = {
    "vocab_size": Key(int, None, low=1, high=MAX_VOCAB, required=True, example="30",
                      doc="the entries to learn up to: specials, `<unk>`, the characters, then one per merge"),
    "min_frequency": Key(int, 1, low=1, high=1_000_000, doc="merge only a pair seen at least this often"),
}

TASK = {
    "kind": Key(str, None, ("classify", "next_token", "regress", "seq2seq"),
                doc="the loss; default: classify (encoder), next_token (decoder), regress (mlp), seq2seq (seq2seq)"),
    "classes": Key(list, None, doc="classify: class names", example="[negative, positive]"),
    "label": Key(Word, None, doc="classify: the true class, by name", example="positive"),
    "labels": Key(list, None, doc="classify an mlp batch: the true class of each example, by name",
                  example="[negative, positive]", only=("mlp",)),
    "target": Key((list, float), None, doc="regress: the target, one number per output (one row per example "
                                           "for a batch)", example="[0.5]"),
}

WEIGHTS = {
    "seed": Key(int, 0, low=0, high=MAX_SEED, doc="seed for every parameter not given explicitly"),
    "init": Key(dict, {}, doc="`std` for weights, `bias_std` for biases", example="std: 0.5"),
    "values": Key(dict, {}, doc="explicit parameter values by parameter name",
                  example="layers.0.ln1.gamma: [1, 1, 1, 1]"),
}

INIT = {
    "std": Key(float, 0.5, low=0.0, high=100.0, doc="standard deviation of weight matrices"),
    "bias_std": Key(float, 0.0, low=0.0, high=100.0, doc="standard deviation of biases (0: zeros)"),
}

OPTIM_KINDS = ("sgd", "momentum", "adam", "adamw")
ADAM = ("adam", "adamw")
MAX_STEPS = 10000
OPTIM = {
    "kind": Key(str, "sgd", OPTIM_KINDS,
                doc="sgd: w ← w − α·g; momentum: v ← β·v + g, w ← w − α·v; adam; adamw (decoupled weight decay)"),
    "lr": Key(float, 0.1, low=0.0, high=100.0, open=("low",), doc="the learning rate α"),
    "momentum": Key(float, 0.9, low=0.0, high=1.0, open=("high",), doc="β, the share of the old velocity kept",
                    only=("momentum",)),
    "beta1": Key(float, 0.9, low=0.0, high=1.0, open=("high",), doc="decay of the mean of the gradients",
                 only=ADAM),
    "beta2": Key(float, 0.999, low=0.0, high=1.0, open=("high",), doc="decay of the mean of their squares",
                 only=ADAM),
    "eps": Key(float, 1e-8, low=0.0, high=1.0, open=("low",), doc="added to √s so no step divides by 0",
               only=ADAM),
    "steps": Key(int, 1, low=1, high=MAX_STEPS, doc="updates to run; the first is shown parameter by parameter"),
    "epochs": Key(int, None, low=1, high=MAX_STEPS, example="10",
                  doc="instead of steps: passes over data.examples, each ⌈N / batch_size⌉ updates"),
    "weight_decay": Key(float, None, low=0.0, high=100.0, example="0.01",
                        doc="adamw: decoupled (default 0.01); the others: L2 added to the gradient (default 0)"),
    "clip_grad_norm": Key(float, None, low=0.0, high=1e6, open=("low",), example="1.0",
                          doc="scale the gradients so their total L2 norm is at most this"),
    "schedule": Key(dict, {}, doc="the learning-rate multiplier of each update", example="kind: cosine"),
    "velocity": Key(dict, {}, doc="the initial velocity of any parameters, by name (others start at 0)",
                    example="layers.0.W: [[0.1, 0.0], [0.0, 0.1]]", only=("momentum",)),
}

SCHEDULE = {
    "kind": Key(str, "constant", ("constant", "linear", "cosine"),
                doc="after warm-up: keep lr, fall linearly to 0, or follow half a cosine to 0"),
    "warmup": Key(int, 0, low=0, high=MAX_STEPS, doc="updates whose multiplier rises linearly from 0"),
}

DATA = {
    "examples": Key(list, None, required=True, doc="the training set, each example written like `input`",
                    example="[{text: I am happy, label: positive}]"),
    "validation": Key(list, None, doc="held-out examples, never trained on", example="[{text: I am sad, label: negative}]"),
    "batch_size": Key(int, None, low=1, high=1_000_000, example="4", doc="examples per update; default: all"),
    "shuffle": Key(bool, False, doc="each epoch e takes numpy.random.default_rng(seed + e).permutation(N)"),
    "seed": Key(int, 0, low=0, high=MAX_SEED, doc="seed of the shuffle (and of the dropout masks)"),
}

# one example of data.examples / data.validation
EXAMPLE = {
    "tokens": Key(list, None, doc="the sequence, as vocab entries", example="[I, am]", only=ONE_SEQUENCE),
    "text": Key(Word, None, doc="instead of tokens: text split by `input.tokenizer`", example='"I am happy"',
                only=ONE_SEQUENCE),
    "source": Key(list, None, doc="seq2seq: the source, as `input.source`", example="[I, love, pizza]",
                  only=("seq2seq",)),
    "source_text": Key(Word, None, doc="seq2seq: instead of source, text split by `input.tokenizer`",
                       example='"I love pizza"', only=("seq2seq",)),
    "label": Key(Word, None, doc="classify: the true class, by name", example="positive"),
    "features": Key(list, None, doc="mlp: the input vector, sizes[0] numbers", example="[1.0, -1.0]", only=("mlp",)),
    # one key, two meanings: an mlp's target numbers, or a seq2seq's target tokens (as `input.target`)
    "target": Key((list, float), None, doc="mlp regress: one number per output; seq2seq: the target tokens",
                  example="[0.5]", only=("mlp", "seq2seq")),
    "target_text": Key(Word, None, doc="seq2seq: instead of target, text split by `input.tokenizer`",
                       example='"<bos> me gusta <eos>"', only=("seq2seq",)),
}

GENERATE = {
    "max_new_tokens": Key(int, 5, low=1, high=256, doc="how many tokens to add"),
    "temperature": Key(float, 1.0, low=0.0, high=100.0, doc="z′ = (z − max z) / τ before the softmax; 0 = greedy"),
    "top_k": Key(int, 0, low=0, high=1_000_000, doc="keep only the k most likely tokens; 0 = off"),
    "top_p": Key(float, 1.0, low=0.0, high=1.0, open=("low",),
                 doc="keep the most likely tokens until their probability reaches p; 1 = off"),
    "seed": Key(int, 0, low=0, high=MAX_SEED, doc="seed of the uniform draws that pick each token"),
    "greedy": Key(bool, False, doc="always take the most likely token"),
}

QUIZ = {
    "step": Key(Word, required=True, doc="the id of the step the question is asked before", example="fwd.loss"),
    "ask": Key(Word, required=True, doc="the question", example='"What is the loss?"'),
    "answer": Key(Word, required=True, doc="a number, or a word or text", example="0.69"),
    "tolerance": Key(float, 0.0, low=0.0, high=1e6, doc="how far a number answer may be off"),
    "why": Key(Word, "", doc="shown after the answer", example='"−log 0.5 = 0.69"'),
}

SECTIONS = {"model": MODEL, "input": INPUT, "input.bpe": BPE, "task": TASK, "weights": WEIGHTS, "weights.init": INIT,
            "optim": OPTIM, "optim.schedule": SCHEDULE, "data": DATA, "data.examples": EXAMPLE,
            "generate": GENERATE, "quiz": QUIZ}
