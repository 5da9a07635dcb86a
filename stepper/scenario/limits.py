"""How big a scenario is: the memory a check needs (a scenario over the limit is refused before any
work) and the work its trace takes to build (the app builds a small one before its first frame).

The memory estimate counts float64 parameters and activations, their gradients, and the PyTorch
reference's copies of both. The message names the biggest term as a formula over the
scenario's own keys, because "too big" alone does not tell a learner what to shrink.
"""

from __future__ import annotations

import os

from stepper.scenario.cost import forward_ops
from stepper.scenario.params import count, n_outputs, param_specs
from stepper.scenario.types import ModelConfig

BYTES = 8  # float64
PARAM_COPIES = 4  # parameters, their gradients, and the torch reference's copies of both
ACT_COPIES = 4  # activations, their gradients, and the reference's two of each
CAP = 8 * 2**30
PARAMS, ACTS = "parameters", "activation values"
COPIES = {PARAMS: PARAM_COPIES, ACTS: ACT_COPIES}


def memory_limit() -> int:
    """8 GiB, or half this machine's memory when that is less."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return CAP
    return min(CAP, physical // 2) if physical > 0 else CAP


MEMORY_LIMIT = memory_limit()


def _terms(model: ModelConfig, vocab_size: int, n_out: int, n_tokens: int,
           n_source: int = 0) -> list[tuple[str, str, int, int]]:
    """(formula, figures, count, kind) per part of the model; kind is PARAMS or ACTS."""
    if model.kind == "seq2seq":
        return _seq2seq_terms(model, vocab_size, n_out, n_tokens, n_source)
    if model.kind == "mlp":  # n_tokens: the examples of a batch (1 for one input vector)
        s, b = model.sizes, max(n_tokens, 1)
        i = max(range(len(s) - 1), key=lambda j: s[j] * s[j + 1])
        acts = ("4 × examples × sum(sizes)", f"4 × {b} × {sum(s)}") if b > 1 else ("4 × sum(sizes)", f"4 × {sum(s)}")
        return [(f"sizes[{i}] × sizes[{i + 1}]", f"{s[i]} × {s[i + 1]}", s[i] * s[i + 1], PARAMS),
                (*acts, 4 * b * sum(s), ACTS)]
    d, f, h, n, t = model.d_model, model.d_ff, model.n_heads, model.n_layers, n_tokens
    pos = model.max_len * d if model.positional == "learned" else 0
    table = (("vocab × (d_model − d_pos)", f"{vocab_size} × {model.d_tok}") if model.positional == "concat"
             else ("vocab × d_model", f"{vocab_size} × {d}"))
    ffn = [("n_layers × 2 × d_model × d_ff", f"{n} × 2 × {d} × {f}", n * 2 * d * f, PARAMS)] if model.ffn else []
    return [
        *ffn,  # `ffn: false`: attention-only blocks have no FFN weights, and d_ff is not to blame
        ("n_layers × 4 × d_model²", f"{n} × 4 × {d}²", n * 4 * d * d, PARAMS),
        (*table, vocab_size * model.d_tok, PARAMS),
        ("max_len × d_model", f"{model.max_len} × {d}", pos, PARAMS),
        ("d_model × outputs", f"{d} × {n_out}", d * n_out, PARAMS),
        # attention scores, scaled, masked, softmaxed, weighted: five [T, T] per head
        ("n_layers × 5 × n_heads × tokens²", f"{n} × 5 × {h} × {t}²", n * 5 * h * t * t, ACTS),
        ("n_layers × tokens × (16 × d_model + 3 × d_ff)", f"{n} × {t} × (16 × {d} + 3 × {f})",
         n * t * (16 * d + 3 * f), ACTS) if model.ffn else
        ("n_layers × tokens × 16 × d_model", f"{n} × {t} × 16 × {d}", n * t * 16 * d, ACTS),
        ("3 × tokens × outputs", f"3 × {t} × {max(n_out, d)}", 3 * t * max(n_out, d), ACTS),
    ]


def _seq2seq_terms(model: ModelConfig, vocab_size: int, n_out: int, t: int, s: int) -> list[tuple[str, str, int, int]]:
    """`t`: the positions the decoder reads, `s`: the source's. A decoder layer has two attentions (self and
    cross, whose scores are [target, source]) and a third norm, so it weighs more than an encoder layer."""
    d, f, h, n, m = model.d_model, model.d_ff, model.n_heads, model.n_layers, model.n_dec_layers
    pos = model.max_len * d if model.positional == "learned" else 0
    return [
        ("(n_layers + n_dec_layers) × 2 × d_model × d_ff", f"({n} + {m}) × 2 × {d} × {f}", (n + m) * 2 * d * f,
         PARAMS),
        ("(n_layers + 2 × n_dec_layers) × 4 × d_model²", f"({n} + 2 × {m}) × 4 × {d}²", (n + 2 * m) * 4 * d * d,
         PARAMS),
        ("vocab × d_model", f"{vocab_size} × {d}", vocab_size * d, PARAMS),
        ("max_len × d_model", f"{model.max_len} × {d}", pos, PARAMS),
        ("d_model × outputs", f"{d} × {n_out}", d * n_out, PARAMS),
        ("n_layers × 5 × n_heads × source²", f"{n} × 5 × {h} × {s}²", n * 5 * h * s * s, ACTS),
        ("n_dec_layers × 5 × n_heads × target × (target + source)", f"{m} × 5 × {h} × {t} × ({t} + {s})",
         m * 5 * h * t * (t + s), ACTS),
        ("(n_layers × source + n_dec_layers × target) × (24 × d_model + 3 × d_ff)",
         f"({n} × {s} + {m} × {t}) × (24 × {d} + 3 × {f})", (n * s + m * t) * (24 * d + 3 * f), ACTS),
        ("3 × target × outputs", f"3 × {t} × {max(n_out, d)}", 3 * t * max(n_out, d), ACTS),
    ]


# the key to point at when a term is the biggest: the first one the file actually has
BLAME = {"n_layers × 2 × d_model × d_ff": [("model", "d_ff"), ("model", "d_model")],
         "n_layers × 4 × d_model²": [("model", "d_model")],
         "vocab × d_model": [("input", "vocab"), ("input", "text"), ("model", "d_model")],
         "max_len × d_model": [("model", "max_len"), ("model", "d_model")],
         "n_layers × 5 × n_heads × tokens²": [("input", "tokens"), ("input", "text"), ("model", "n_heads")],
         "n_layers × tokens × (16 × d_model + 3 × d_ff)": [("input", "tokens"), ("input", "text")],
         "n_layers × tokens × 16 × d_model": [("input", "tokens"), ("input", "text")],
         "4 × examples × sum(sizes)": [("input", "features"), ("model", "sizes")],
         "(n_layers + n_dec_layers) × 2 × d_model × d_ff": [("model", "d_ff"), ("model", "d_model")],
         "(n_layers + 2 × n_dec_layers) × 4 × d_model²": [("model", "d_model")],
         "n_layers × 5 × n_heads × source²": [("input", "source"), ("input", "source_text"), ("model", "n_heads")],
         "n_dec_layers × 5 × n_heads × target × (target + source)": [("input", "target"), ("input", "target_text"),
                                                                     ("model", "n_heads")],
         "(n_layers × source + n_dec_layers × target) × (24 × d_model + 3 × d_ff)": [
             ("input", "source"), ("input", "source_text"), ("input", "target"), ("input", "target_text")]}


def estimate_bytes(model: ModelConfig, vocab_size: int, n_out: int, n_tokens: int,
                   n_source: int = 0) -> tuple[int, int, int]:
    """(parameter count, activation floats, estimated bytes) for one verified forward+backward.

    `n_tokens`: the positions a transformer reads at most (its tokens, plus what generation appends; a
    seq2seq's decoder); for an mlp, the examples of its batch. `n_source`: a seq2seq's source positions.
    """
    n_params = count(param_specs(model, vocab_size, n_out))
    terms = _terms(model, vocab_size, n_out, n_tokens, n_source)
    acts = sum(v for _, _, v, kind in terms if kind == ACTS)
    return n_params, acts, BYTES * (PARAM_COPIES * n_params + ACT_COPIES * acts)


def over_limit(model: ModelConfig, vocab_size: int, task_kind: str, n_classes: int, n_tokens: int,
               limit: int | None = None, *, n_source: int = 0) -> tuple[str, list[tuple]] | None:
    """None when it fits; else (one-line message, keys to blame, best first)."""
    limit = MEMORY_LIMIT if limit is None else limit
    n_out = n_outputs(model, task_kind, n_classes, vocab_size)
    n_params, acts, total = estimate_bytes(model, vocab_size, n_out, n_tokens, n_source)
    if total <= limit:
        return None
    formula, figures, values, what = max(_terms(model, vocab_size, n_out, n_tokens, n_source),
                                         key=lambda term: term[2] * COPIES[term[3]])
    blame = BLAME.get(formula, [("model", "sizes")] if model.kind == "mlp" else [("model",)])
    return (f"too big to step through: {formula} = {figures} = {values:,} {what}; in all ≈ {_size(total)} "
            f"(float64, with gradients and the PyTorch reference), over the limit of {_size(limit)} — make it "
            "smaller, or use --force to try anyway", blame)


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


# Below this many multiply-adds the app builds the trace before it starts (a few ms), so the first
# frame shows the first step; above it the build runs in a worker behind a loading screen.
SYNC_BUILD_LIMIT = 20_000_000


def build_cost(scenario) -> int:
    """The multiply-adds of a scenario's forward and backward pass, roughly."""
    return pass_cost(scenario.model, max(len(scenario.tokens), 1), max(len(scenario.vocab), 1),
                     len(scenario.source_tokens))


def pass_cost(model: ModelConfig, t: int, n_out: int, s: int = 0) -> int:
    """Multiply-adds of one example's forward and backward pass: `t` positions (a seq2seq's target), `n_out`
    scores per row, `s` a seq2seq's source positions. Half the FLOPs of the cost model (cost.py), which
    counts a multiply and an add apart; every position scored, the most a task can ask."""
    ops = forward_ops(model, t, n_out, "next_token" if model.kind != "mlp" else "classify", s=s)
    return sum(o.flops + o.backward for o in ops) // 2


# A whole training run: the multiply-adds of every update (a few minutes of numpy and the reference's torch
# at most), and every parameter kept after every update (the history the checks and the app read).
TRAIN_WORK_LIMIT = 10**11
TRAIN_BLAME = [("optim", "epochs"), ("optim", "steps"), ("data", "batch_size"), ("optim",)]


def training_over_limit(model: ModelConfig, vocab_size: int, n_out: int, rows: int, batch_size: int, updates: int,
                        *, limit: int | None = None, work_limit: int = TRAIN_WORK_LIMIT,
                        n_source: int = 0) -> tuple[str, list] | None:
    """None when training fits; else (one-line message, keys to blame, best first). `rows`: the positions of
    the longest example (1 for an mlp; a seq2seq's target), `n_source`: of the longest seq2seq source."""
    limit = MEMORY_LIMIT if limit is None else limit
    n_params = count(param_specs(model, vocab_size, n_out))
    history = updates * n_params * BYTES
    fix = "fewer updates (`optim.epochs` or `optim.steps`), a smaller model, or use --force to try anyway"
    if history > limit:
        return (f"too big to train: updates × parameters = {updates:,} × {n_params:,} float64 kept after every "
                f"update ≈ {_size(history)}, over the limit of {_size(limit)} — {fix}", TRAIN_BLAME)
    per_example = pass_cost(model, rows, n_out, n_source)
    work = updates * batch_size * per_example
    if work > work_limit:
        return (f"too slow to train: updates × batch_size × multiply-adds per example = {updates:,} × {batch_size} "
                f"× {per_example:,} ≈ {work:.2g}, over the limit of {work_limit:.0g} — {fix}", TRAIN_BLAME)
    return None


def limit_message(model: ModelConfig, vocab_size: int, task_kind: str, n_classes: int, n_tokens: int) -> str | None:
    found = over_limit(model, vocab_size, task_kind, n_classes, n_tokens)
    return found[0] if found else None
