"""The training screen's four pictures, drawn into a plotext `plt` handed in (this module never imports
plotext): the losses, the learning rate, the gradient norm, and each layer's gradient norm (one line
per group of trace_keys.layer_group, on a log scale: the layers' norms differ by orders of magnitude),
each over the updates (1-based, as the screen counts them), with a vertical line on the update under
the cursor. Every point is the TrainingLog's own; a value that is not finite (the update that stopped
training), or a norm of 0 on the log scale, is left out."""

from __future__ import annotations

import math

import numpy as np

from stepper.present.layer_norms import group_label
from stepper.trace import TrainingLog

KINDS = ("loss", "lr", "grad", "layers")
# the per-layer lines' colours, as the legend names them (Textual's ansi_ names); plotext spells
# bright_X as X+
LAYER_COLOURS = ("blue", "green", "red", "cyan", "magenta", "yellow", "bright_blue", "bright_green",
                 "bright_red", "bright_cyan", "bright_magenta", "bright_yellow")


def legend(log: TrainingLog, kind: str, clip: float | None) -> list[tuple[str, str]]:
    """(label, colour) of each series of a picture, drawn by the app above it: plotext's own legend
    would cover the curve."""
    if kind == "loss":
        return [("batch loss", "blue"), *([("validation loss ●", "red")] if log.val_loss.size else []),
                *([("validation accuracy ▲ (right axis)", "green")] if log.val_accuracy.size else [])]
    if kind == "lr":
        return [("learning rate", "magenta")]
    if kind == "layers":
        return [(group_label(g), _layer_colour(k)) for k, g in enumerate(log.layer_grad_norm)]
    return [("gradient norm (all parameters, before clipping)", "yellow"),
            *([(f"clip threshold {clip:g}", "red")] if clip is not None else [])]


def _layer_colour(k: int) -> str:
    return LAYER_COLOURS[k % len(LAYER_COLOURS)]


def _layers(plt, log: TrainingLog, xs: list[int]) -> None:
    """log10 of each norm on a linear axis, ticked at the powers of 10 in their own numbers: plotext's
    own log scale rewrites its data in place, so a second draw of the same figure (a resize) fails."""
    lows, highs = [], []
    for k, values in enumerate(log.layer_grad_norm.values()):
        keep = [(x, math.log10(y)) for x, y in zip(*_finite(xs, values), strict=True) if y > 0]
        if keep:
            colour = _layer_colour(k)
            plt.plot(*zip(*keep, strict=True), color=colour.replace("bright_", "") + "+" * colour.startswith(
                "bright_"), marker="braille")
            lows.append(min(y for _, y in keep))
            highs.append(max(y for _, y in keep))
    if lows:
        powers = list(range(math.floor(min(lows)), math.ceil(max(highs)) + 1))
        plt.yticks(powers, [f"{10.0 ** p:g}" for p in powers])


def _finite(xs: list[int], ys: np.ndarray) -> tuple[list[int], list[float]]:
    keep = [(x, float(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(float(y))]
    return [x for x, _ in keep], [y for _, y in keep]


def _ticks(plt, n: int) -> None:
    # whole updates only: plotext would tick 0.5, 1.5 … on a short run
    every = max(1, math.ceil(n / 8))
    picks = list(range(1, n + 1, every))
    plt.xticks(picks, [str(x) for x in picks])


def draw(plt, log: TrainingLog, kind: str, cursor: int, clip: float | None) -> None:
    plt.clear_figure()
    n = log.updates
    xs = list(range(1, n + 1))
    if kind == "loss":
        plt.plot(*_finite(xs, log.batch_losses), color="blue", marker="braille")
        if log.val_loss.size:
            plt.scatter(*_finite([int(u) + 1 for u in log.val_after], log.val_loss), color="red", marker="●")
        if log.val_accuracy.size:
            plt.scatter([int(u) + 1 for u in log.val_after], log.val_accuracy.tolist(), color="green",
                        marker="▲", yside="right")
            plt.ylim(0, 1.05, yside="right")
        plt.ylim(0, None)
    elif kind == "layers":
        _layers(plt, log, xs)
    elif kind == "lr":
        plt.plot(*_finite(xs, log.lr), color="magenta", marker="braille")
        plt.ylim(0, None)
    else:
        plt.plot(*_finite(xs, log.grad_norm), color="yellow", marker="braille")
        if clip is not None:
            plt.hline(clip, "red")  # above it, clipping scaled the gradient down
        plt.ylim(0, None)
    plt.vline(cursor + 1, "cyan")
    _ticks(plt, n)
