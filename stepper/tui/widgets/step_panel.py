"""The step itself: header and formula, the matrices, and a plot where one helps."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from stepper.trace import Trace
from stepper.tui.plots import legend, plot_kind
from stepper.tui.widgets.matrices import MatrixView
from stepper.tui.widgets.step_header import StepHeader


class StepPanel(VerticalScroll, inherit_bindings=False):
    # ←/→, Home/End and paging are the screen's stepping keys; the panel keeps only ↑/↓
    BINDINGS = [
        Binding("up", "scroll_up", "scroll up", show=False),
        Binding("down", "scroll_down", "scroll down", show=False),
    ]

    def __init__(self, trace: Trace, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace = trace
        self.index: int | None = None

    def compose(self) -> ComposeResult:
        yield StepHeader(id="step-header")
        # side by side when there is room (the stylesheet stacks them on narrow screens)
        with Horizontal(id="step-body"):
            yield MatrixView(self.trace, id="matrices")
            yield Vertical(id="plot-slot")

    def show(self, index: int) -> None:
        self.index = index
        step = self.trace.steps[index]
        self.query_one(StepHeader).show(step, index, len(self.trace.steps))
        self.query_one(MatrixView).show(step)
        slot = self.query_one("#plot-slot", Vertical)
        slot.remove_children()
        kind = plot_kind(self.trace, step)
        slot.display = kind is not None
        self.query_one("#step-body").set_class(kind is not None, "-with-plot")
        if kind is not None:
            # deferred: plotext and textual-plotext load on the first step that has a picture
            from stepper.tui.widgets.step_plot import StepPlot

            caption, entries = legend(self.trace, step, kind)
            key = Content(" ").join(Content.styled(f"■ {label}", f"ansi_{c}") for label, c in entries)
            slot.mount(Static(Content.assemble((caption, "bold"), "\n", key), classes="plot-legend"),
                       StepPlot(self.trace, step, kind))
        self.scroll_home(animate=False)
