"""`c`: what this model costs, from its shapes: a chart of forward FLOPs against the sequence length
(attention's O(T²) rows against the projections' O(T·d²)), the FLOPs by row at the scenario's own
length, and its memory for training and for inference. The same words and figures as `stepper cost`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from stepper.present.cost_table import (
    chart_series,
    crossover_words,
    flops_table,
    memory_table,
    shape_words,
    text_table,
)
from stepper.scenario.budget import budget
from stepper.tui.bindings import COST_BINDINGS
from stepper.tui.widgets.key_bar import KeyBar
from stepper.tui.widgets.title_bar import TitleBar

READING = """\
The chart (above) puts the forward FLOPs of one example against its length T, both on log scales: attention's
scores, softmax and A·V (red) grow as T², the Q, K, V, W_O and FFN products (blue) as T·d², so on
these axes the red line is twice as steep and crosses the blue one where attention starts to dominate.
The cyan line is this scenario's own T. Below it, the FLOPs of each row at that T and the memory the
model needs: for training (parameters, gradients, optimizer state, every activation kept for the
backward pass) and for inference (parameters, one layer's activations, a decoder's KV cache).
A matmul [m, k]·[k, n] counts 2·m·k·n FLOPs; every number is float64, 8 bytes."""

LENGTHS = tuple(2**k for k in range(13))  # T = 1 … 4096


class CostScreen(Screen):
    BINDINGS = COST_BINDINGS
    KEYS_HELP = (COST_BINDINGS, READING)  # what `?` lists and says here

    def __init__(self, scenario) -> None:
        super().__init__()
        self.scenario, self.budget = scenario, budget(scenario)

    def compose(self) -> ComposeResult:
        from stepper.tui.widgets.cost_plot import CostPlot

        b = self.budget
        yield TitleBar(self.scenario.name, f"cost: {shape_words(b)}", id="title-bar")
        with Vertical(id="cost-body"):
            if b.model.kind != "mlp":
                yield CostPlot(LENGTHS, chart_series(self.scenario, LENGTHS), b.t, id="cost-plot")
            with VerticalScroll(id="cost-figures"):
                yield Static(Content(text_table(flops_table(b))), id="cost-flops")
                yield Static(Content(text_table(memory_table(b))), id="cost-memory")
                yield Static(Content(crossover_words(b)), id="cost-words")
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss(None)
