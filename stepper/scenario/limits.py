"""Size limits: refuse, before any work, a scenario that would not fit in this machine's memory."""

from __future__ import annotations

from stepper.scenario.params import count, n_outputs, param_specs
from stepper.scenario.types import ModelConfig

BYTES = 8  # float64
# parameters, their gradients, and the torch reference's copies of both
PARAM_COPIES = 4
MEMORY_LIMIT = 8 * 2**30


def estimate_bytes(model: ModelConfig, vocab_size: int, n_out: int, n_tokens: int) -> tuple[int, int, int]:
    """(parameter count, activation floats, estimated bytes) for one verified forward+backward."""
    n_params = count(param_specs(model, vocab_size, n_out))
    if model.kind == "mlp":
        acts = 4 * sum(model.sizes)
    else:
        t, d, f, h = n_tokens, model.d_model, model.d_ff, model.n_heads
        per_layer = 5 * h * t * t + 16 * t * d + 3 * t * f  # scores…softmax, streams, FFN
        acts = model.n_layers * per_layer + 3 * t * max(n_out, d)
    # activations: ours, their gradients, and the reference's two of each
    return n_params, acts, BYTES * (PARAM_COPIES * n_params + 4 * acts)


def limit_message(model: ModelConfig, vocab_size: int, task_kind: str, n_classes: int, n_tokens: int) -> str | None:
    n_out = n_outputs(model, task_kind, n_classes, vocab_size)
    n_params, acts, total = estimate_bytes(model, vocab_size, n_out, n_tokens)
    if total <= MEMORY_LIMIT:
        return None
    return (f"this model needs about {total / 2**30:.1f} GiB ({n_params:,} parameters, {acts:,} activation "
            f"values, float64, with gradients and the PyTorch reference), over the limit of "
            f"{MEMORY_LIMIT / 2**30:.0f} GiB — make it smaller, or use --force to try anyway")
