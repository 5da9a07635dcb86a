"""The cost model in words and tables: `stepper cost`, its markdown and the app's cost screen say the same.

Tables come as rows of strings (a header row first); the command lays them out as text or markdown.
Every figure is exact (thousands separated) so a reader can add the rows up and a test can find them.
"""

from __future__ import annotations

from stepper.scenario.budget import Budget
from stepper.scenario.cost import ATTENTION_ROWS, GROWTH, PROJECTION_ROWS, by_row, crossover

FLOPS_HEADER = ("row", "grows as", "forward FLOPs", "backward FLOPs", "elements made")
MEMORY_HEADER = ("memory (float64, 8 bytes a number)", "training", "inference")


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows laid out in columns for a terminal: the first left-aligned, the figures right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths, strict=True))).rstrip() for r in rows)


def human(n: int) -> str:
    """Bytes as a person reads them: 688 B, 1.2 KiB, 3.4 MiB, 1.5 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def shape_words(b: Budget) -> str:
    m = b.model
    if m.kind == "mlp":
        return f"mlp, sizes {' → '.join(map(str, m.sizes))}; a batch of {b.t}"
    layers = f"{m.n_layers} + {m.n_dec_layers} layers" if m.kind == "seq2seq" else \
        f"{m.n_layers} layer{'s' * (m.n_layers != 1)}"
    where = f"T = {b.t} target and {b.s} source positions" if m.kind == "seq2seq" else f"T = {b.t} positions"
    return (f"{m.kind}, d_model {m.d_model}, {m.n_heads} head{'s' * (m.n_heads != 1)}, {layers}, "
            f"d_ff {m.d_ff}; {where}")


def flops_table(b: Budget) -> list[tuple[str, ...]]:
    rows = [FLOPS_HEADER]
    for row, (fwd, bwd, made) in by_row(list(b.ops)).items():
        rows.append((row, GROWTH[row], f"{fwd:,}", f"{bwd:,}", f"{made:,}"))
    made = sum(o.made for o in b.ops)
    rows.append(("total", "", f"{b.forward_flops:,}", f"{b.backward_flops:,}", f"{made:,}"))
    return rows


def _bytes(n: int) -> str:
    return f"{n:,} B ({human(n)})" if n >= 1024 else f"{n:,} B"


def memory_table(b: Budget) -> list[tuple[str, ...]]:
    dash = "—"
    optimizer = b.optimizer or "no optim: section"
    kv = ("KV cache (K and V per layer, " + f"{b.context} positions)") if b.kv_cache_bytes else "KV cache"
    return [MEMORY_HEADER,
            (f"parameters ({b.n_params:,} numbers)", _bytes(b.param_bytes), _bytes(b.param_bytes)),
            ("gradients (one per parameter)", _bytes(b.param_bytes), dash),
            (f"optimizer state ({optimizer})", _bytes(b.optimizer_bytes), dash),
            ("activations kept for backward", _bytes(b.activation_bytes), dash),
            ("activations alive at once (one layer)", dash, _bytes(b.working_bytes)),
            (kv, dash, _bytes(b.kv_cache_bytes) if b.kv_cache_bytes else "none (no generation)"),
            ("total", _bytes(b.training_bytes), _bytes(b.inference_bytes))]


def split(b: Budget) -> tuple[int, int]:
    """(forward FLOPs of the O(T²) attention rows, of the O(T·d²) projection rows)."""
    rows = by_row(list(b.ops))
    return (sum(rows[r][0] for r in ATTENTION_ROWS if r in rows), sum(rows[r][0] for r in PROJECTION_ROWS if r in rows))


def crossover_words(b: Budget) -> str:
    """Where the attention rows overtake the projections, as the numbers give it."""
    m = b.model
    at = crossover(m, 0)
    if at is None:
        return "An mlp has no attention: every row grows with the batch, none with a sequence length."
    attention, projections = split(b)
    now = ("the attention rows already cost more" if attention > projections
           else "the projections still cost more")
    return (f"Attention (scores, softmax, A·V) grows as T², the projections (Q, K, V, W_O, FFN) as T·d²: per layer "
            f"they cost the same at T ≈ {at:.0f}, about {at / m.d_model:.1f} × d_model ({m.d_model}). At T = {b.t} "
            f"{now}: {attention:,} against {projections:,} forward FLOPs.")


def sweep_words(budgets: list[Budget], key: str) -> str:
    """Where, along a sweep, the attention rows first cost more than the projections."""
    over = [b for b in budgets if split(b)[0] > split(b)[1]]
    values = [b.t if key == "T" else b.model.d_model for b in budgets]
    listed = ", ".join(map(str, values))
    if key == "d_model":
        crossings = ", ".join(f"{crossover(b.model, 0):.0f}" for b in budgets)
        where = (f"attention costs more up to d_model = {over[-1].model.d_model}" if over
                 else "the projections cost more at every width")
        return (f"Along d_model = {listed} at T = {budgets[0].t} {where}; the crossover T is {crossings}: a wider "
                "model moves it out, because its projections grow as d² and attention only as d.")
    if not over:
        return (f"Along T = {listed} the projections cost more at every value: attention would overtake them at "
                f"T ≈ {crossover(budgets[-1].model, 0):.0f}.")
    return (f"Along T = {listed} the attention rows cost more from T = {over[0].t} on (crossover T ≈ "
            f"{crossover(over[0].model, 0):.0f}): past it, doubling T doubles the projections' cost but quadruples "
            "attention's.")


def chart_series(scenario, lengths: tuple[int, ...] = tuple(2**k for k in range(13))) -> dict[str, list[int]]:
    """Forward FLOPs at each sequence length T: the O(T²) attention rows, the O(T·d²) projection rows, the
    rest. For the app's cost chart (log scale: the two lines cross where attention takes over)."""
    from stepper.scenario.budget import budget

    series: dict[str, list[int]] = {"attention (T²)": [], "projections (T·d²)": [], "everything else": []}
    for t in lengths:
        b = budget(scenario, t=t)
        attention, projections = split(b)
        series["attention (T²)"].append(attention)
        series["projections (T·d²)"].append(projections)
        series["everything else"].append(b.forward_flops - attention - projections)
    return series
