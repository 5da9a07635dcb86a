"""The training screen's words and numbers, from a TrainingLog: one update under the cursor (its batch,
padded as the trainer padded it, its loss, learning rate, gradient norm and whether clipping fired), and
the before/after marks' "how far it moved". Computed once per run (`training_rows`), then only looked up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stepper.present.labels import visible_token
from stepper.present.numbers import lone_number
from stepper.present.perplexity import is_cross_entropy, ppl
from stepper.roundoff import steady
from stepper.trace import TrainingLog

PAD = "<pad>"


@dataclass(frozen=True)
class UpdateView:
    """Update `t` (0-based) as the training screen shows it."""

    t: int
    epoch: int
    loss: float
    lr: float
    grad_norm: float
    clipped: bool  # grad_norm > clip_grad_norm: every gradient was scaled down before the step
    examples: list[int]  # the batch's example indices (0-based, in data.examples)
    tokens: list[list[str]]  # each example's tokens, right-padded with <pad> to the batch's longest
    real: list[int]  # each example's own length: the positions from there on are <pad>
    labels: list[str]  # each example's label (classify), or "" when the task has none
    validation: tuple[float, float | None] | None  # (loss, accuracy) of the validation run after it
    stopped: bool  # this update made a value that is not finite: training stopped here
    cross_entropy: bool = False  # the loss is a cross-entropy: its perplexity is said beside it


def update_views(log: TrainingLog, config: dict) -> list[UpdateView]:
    """Every update's view, in order (a few dozen small objects: made once, in a worker)."""
    data = config.get("data") or {}
    # without `data:` the data set is the traced example alone (an mlp's rows have no tokens to show)
    examples = data.get("examples") or [{"tokens": list(config.get("tokens") or []), "label": ""}]
    per_epoch = max(1, math.ceil(len(examples) / data.get("batch_size", len(examples))))
    clip = (config.get("optim") or {}).get("clip_grad_norm")
    after = {int(u): k for k, u in enumerate(log.val_after)}
    out = []
    for t in range(log.updates):
        idx = [int(i) for i in log.batches[t]] if t < len(log.batches) else []
        own = [list(examples[i]["tokens"]) if i < len(examples) else [] for i in idx]
        width = max((len(x) for x in own), default=0)
        k = after.get(t)
        validation = None if k is None else (
            float(log.val_loss[k]), float(log.val_accuracy[k]) if log.val_accuracy.size else None)
        out.append(UpdateView(
            t=t, epoch=t // per_epoch, loss=float(log.batch_losses[t]), lr=float(log.lr[t]),
            grad_norm=float(log.grad_norm[t]), clipped=clip is not None and float(log.grad_norm[t]) > clip,
            examples=idx, tokens=[x + [PAD] * (width - len(x)) for x in own], real=[len(x) for x in own],
            labels=[str(examples[i].get("label") or "") if i < len(examples) else "" for i in idx],
            validation=validation, stopped=log.stopped_at == t, cross_entropy=is_cross_entropy(config)))
    return out


def _g(x: float) -> str:
    return f"{steady(x):.4g}" if math.isfinite(x) else lone_number(x)


def _said(v: UpdateView, loss: float) -> str:
    return f"{_g(loss)} (perplexity {ppl(loss)})" if v.cross_entropy else _g(loss)


def update_heading(v: UpdateView, total: int) -> str:
    return f"update {v.t + 1} of {total} · epoch {v.epoch + 1}"


def update_figures(v: UpdateView, clip: float | None) -> list[tuple[str, str]]:
    """(label, value) lines for the update under the cursor."""
    lines = [("batch loss", _said(v, v.loss)), ("learning rate", _g(v.lr)), ("grad norm", _g(v.grad_norm))]
    if clip is not None:
        lines.append(("clipping", f"fired: scaled by {_g(clip / (v.grad_norm + 1e-6))} to norm {_g(clip)}"
                      if v.clipped else f"not fired (norm ≤ {_g(clip)})"))
    if v.validation is not None:
        loss, accuracy = v.validation
        said = f"loss {_said(v, loss)}" + ("" if accuracy is None else f", accuracy {steady(accuracy) * 100:.0f}%")
        lines.append(("validation after it", said))
    if v.stopped:
        lines.append(("stopped", "its loss or gradient is not finite: no parameter changed"))
    return lines


def batch_rows(v: UpdateView) -> list[tuple[str, list[tuple[str, bool]], str]]:
    """Per example of the batch: its name ("#3"), its tokens with True on each <pad> position, its label."""
    return [(f"#{i}", [(visible_token(tok), k >= n) for k, tok in enumerate(tokens)], label)
            for i, tokens, n, label in zip(v.examples, v.tokens, v.real, v.labels, strict=True)]


def moved_words(count: int, largest: float | None) -> str:
    """How a table says what moved: "12 changed, by up to 0.31"."""
    if not count:
        return "unchanged"
    return f"{count} changed" + ("" if largest is None else f", by up to {lone_number(largest)}")


def plotted_words(log: TrainingLog) -> str:
    """What the plots show, and what they do not."""
    validation = ", validation after each epoch" if log.val_loss.size else ""
    return (f"Per update: the batch's loss{validation}, the learning rate, the gradient norm in total and per "
            "layer. ←/→ move the cursor; Enter: update 1's steps; H: the heads.")
