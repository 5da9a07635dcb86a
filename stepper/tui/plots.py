"""Pictures for the steps where a picture beats a table of numbers.

`plot_kind` and `legend` are cheap and import nothing; `draw` receives a plotext `plt`, so
this module never imports plotext itself. Every plotted point comes from the trace: the
continuous waves and the −log p curve are only a backdrop for the trace's own points, and the
untempered distribution beside a sampling step's p is the engine's own softmax of the trace's z.
The legend is drawn by the app, outside the plot, because plotext's own legend covers bars.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.present.labels import visible_label
from stepper.roundoff import ranked, steady
from stepper.trace import Step, Trace

# plotext's 16-colour names; the legend uses the same ANSI colours so the two always match
COLOURS = ["red", "blue", "green", "yellow", "cyan", "magenta"]
MAX_WAVES = 6
MAX_BARS = 8


def plot_kind(trace: Trace, step: Step) -> str | None:
    if step.id == "upd.curve" and len(trace.losses) > 1:
        return "curve"
    if step.phase == "generate" and step.part in ("filter", "softmax") and _draw_from(trace, step):
        return "sampling"
    if step.phase != "forward":
        return None
    if step.stage == "positional" and "PE" in step.outputs:
        return "pe"
    if step.stage == "softmax" and "A" in step.outputs:
        return "softmax"
    if step.stage == "loss" and "p" in step.outputs:
        return "loss"
    return None


def colour(n: int) -> str:
    return COLOURS[n % len(COLOURS)]


def legend(trace: Trace, step: Step, kind: str) -> tuple[str, list[tuple[str, str]]]:
    """(what the picture shows, [(label, colour)])."""
    if kind == "pe":
        pe = step.outputs["PE"]
        picks = _wave_picks(pe.value.shape[1])
        if not _sinusoidal(trace):
            return ("learned position vectors: a dot per position, a colour per column (weights, not waves)",
                    [(_labels(pe.cols, pe.value.shape[1])[k], colour(n)) for n, k in enumerate(picks)])
        return ("positional waves, one per column; ● marks this sentence's positions",
                [(_wave_label(pe.cols, k), colour(n)) for n, k in enumerate(picks)])
    if kind == "softmax":
        keys = _labels(step.outputs["A"].cols, step.outputs["A"].value.shape[1])[:MAX_BARS]
        return ("each query row's attention, split over the keys it sees (sums to 1)",
                [(f"key {k}", colour(j)) for j, k in enumerate(keys)])
    if kind == "curve":
        steps = len(trace.losses) - 1
        return ("the loss before training and after the update" if steps == 1 else
                f"the loss before training and after each of {steps} updates",
                [(f"L: {steady(trace.losses[0]):.4g} → {steady(trace.losses[-1]):.4g}", "blue")])
    if kind == "sampling":
        tau = trace.generation_step(step.token, "temperature").bindings.get("τ", "")
        return ("the next token's distribution, before and after temperature and filtering",
                [("softmax(z): τ = 1, nothing filtered", "blue"), (f"p: τ = {tau}, filtered", "red")])
    targets = _target_probs(trace, step)[:MAX_BARS]
    loss = float(np.asarray(step.outputs["L"].value)) if "L" in step.outputs else float("nan")
    return (f"L = {loss:.4f}: the mean surprise −log p(right answer)",
            [("−log p", "blue"), *((f"{name}: p = {p:.3f}", colour(n + 2))
                                   for n, (name, p) in enumerate(targets))])


def draw(plt, trace: Trace, step: Step, kind: str) -> None:
    plt.clear_figure()
    {"pe": _pe, "softmax": _softmax, "loss": _loss, "curve": _curve, "sampling": _sampling_bars}[kind](
        plt, trace, step)


def _labels(names: list[str] | None, n: int) -> list[str]:
    return [visible_label(name) for name in names] if names and len(names) == n else [str(i) for i in range(n)]


def _wave_picks(d: int) -> list[int]:
    return list(range(d)) if d <= MAX_WAVES else [0, 1, 2, 3, d - 2, d - 1]


def _wave_label(cols: list[str] | None, k: int) -> str:
    return f"{cols[k] if cols else k} {'sin' if k % 2 == 0 else 'cos'}"


def _sinusoidal(trace: Trace) -> bool:
    # concat's PE is sinusoidal too, over its own d_pos columns
    return trace.config.get("model", {}).get("positional", "sinusoidal") in ("sinusoidal", "concat")


def _pe(plt, trace: Trace, step: Step) -> None:
    values = np.asarray(step.outputs["PE"].value, dtype=float)
    n_pos, d = values.shape
    sinusoidal = _sinusoidal(trace)
    span = max(n_pos - 1, 12)
    xs = [span * k / 240 for k in range(241)]
    for n, k in enumerate(_wave_picks(d)):
        if sinusoidal:
            rate = 1.0 / 10000 ** ((k - k % 2) / d)
            wave = math.sin if k % 2 == 0 else math.cos
            plt.plot(xs, [wave(x * rate) for x in xs], color=colour(n), marker="braille")
        plt.scatter(list(range(n_pos)), values[:, k].tolist(), color=colour(n), marker="●")
    # sin and cos stay within ±1; learned vectors go wherever training (or the init) put them
    top = 1.1 if sinusoidal else max(1.1 * float(np.abs(values).max(initial=0.0)), 1e-3)
    plt.ylim(-top, top)
    plt.xlabel("position")


def _softmax(plt, trace: Trace, step: Step) -> None:
    a = step.outputs["A"]
    values = np.asarray(a.value, dtype=float)[:MAX_BARS, :MAX_BARS]
    queries = _labels(a.rows, a.value.shape[0])[: values.shape[0]]
    # one horizontal bar per query row, cut into its keys' shares: a distribution fills 0…1.
    # plotext stacks categories bottom-up, so rows are reversed to read top-down like the matrix
    series = [values[::-1, j].tolist() for j in range(values.shape[1])]
    plt.stacked_bar(queries[::-1], series, orientation="horizontal", width=0.6,
                    color=[colour(j) for j in range(len(series))])
    plt.xlim(0, 1)
    plt.xlabel("share of the row's attention")


def _target_probs(trace: Trace, step: Step) -> list[tuple[str, float]]:
    """(label, p of the right answer) per position, read off the one-hot target of bwd.loss."""
    p = np.atleast_2d(np.asarray(step.outputs["p"].value, dtype=float))
    target = next((s.inputs["y"] for s in trace.steps if s.phase == "backward" and s.stage == "loss"
                   and "y" in s.inputs), None)
    if target is None:
        return []
    onehot = np.atleast_2d(np.asarray(target.value, dtype=float))
    cols = _labels(step.outputs["p"].cols, p.shape[1])
    rows = step.outputs["p"].rows or [""] * p.shape[0]
    out = []
    for i in range(min(p.shape[0], onehot.shape[0])):
        hits = np.flatnonzero(onehot[i] == 1)
        if hits.size:  # a padded target has no one-hot entry and is not in the loss
            j = int(hits[0])
            out.append(((f"{rows[i]} → " if rows[i] else "") + cols[j], float(p[i, j])))
    return out


def _loss(plt, trace: Trace, step: Step) -> None:
    xs = [k / 200 for k in range(4, 201)]
    plt.plot(xs, [-math.log(x) for x in xs], color="blue", marker="braille")
    for n, (_, p) in enumerate(_target_probs(trace, step)[:MAX_BARS]):
        plt.scatter([p], [-math.log(p) if p > 0 else 5.0], color=colour(n + 2), marker="●")
    plt.xlabel("p(right answer)")
    plt.ylim(0, 5)
    plt.xlim(0, 1)


def _curve(plt, trace: Trace, step: Step) -> None:
    xs = list(range(len(trace.losses)))
    plt.plot(xs, list(trace.losses), color="blue", marker="braille")
    plt.scatter(xs, list(trace.losses), color="blue", marker="●")
    plt.xlabel("updates")
    plt.ylim(0, max(trace.losses) * 1.05 or 1.0)
    # whole updates only: plotext would tick 0.25, 0.5 … between a model's first two losses
    every = max(1, math.ceil(len(xs) / 10))
    plt.xticks(xs[::every], [str(x) for x in xs[::every]])


def _draw_from(trace: Trace, step: Step):
    """(the raw logits z, the p the token is drawn from) of the token this step belongs to."""
    temperature, softmax = (trace.generation_step(step.token, part) for part in ("temperature", "softmax"))
    if temperature is None or softmax is None:
        return None
    return temperature.inputs["z"], softmax.outputs["p"]


def _sampling_bars(plt, trace: Trace, step: Step) -> None:
    z, p = _draw_from(trace, step)
    # the untempered distribution is not a step of its own: it comes from the engine's softmax
    # (never the app's arithmetic), as the backdrop the temperature and filter are measured against
    from stepper.engine.softmax import forward

    before, _ = forward(np.asarray(z.value, dtype=float))
    after = np.asarray(p.value, dtype=float)
    tokens = _labels(p.cols, after.shape[0])
    # a big vocabulary shows only the tokens that matter on either side
    keep = sorted(ranked(np.maximum(before, after))[:MAX_BARS])  # a tie up to round-off: the first tokens
    plt.multiple_bar([tokens[k] for k in keep], [before[keep].tolist(), after[keep].tolist()],
                     color=["blue", "red"], width=0.8)
    plt.ylim(0, 1)
    plt.ylabel("probability")
