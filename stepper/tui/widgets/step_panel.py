"""The step itself: header and formula, a quiz question, the matrices, and a plot where one helps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from stepper.trace import Trace
from stepper.tui.plots import legend, plot_kind
from stepper.tui.whatif_view import StepChanges
from stepper.tui.widgets.in_place import content_height
from stepper.tui.widgets.matrices import MatrixView
from stepper.tui.widgets.quiz_box import QuizBox
from stepper.tui.widgets.step_header import StepHeader

if TYPE_CHECKING:  # the quiz logic loads only when a question is asked
    from stepper.quiz import Question, Verdict


class StepPanel(VerticalScroll, inherit_bindings=False):
    # ←/→, Home/End and paging are the screen's stepping keys; the panel keeps only ↑/↓
    BINDINGS = [
        Binding("up", "scroll_up", "scroll up", show=False),
        Binding("down", "scroll_down", "scroll down", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index: int | None = None

    def compose(self) -> ComposeResult:
        yield StepHeader(id="step-header")
        yield QuizBox(id="quiz")
        # side by side when there is room (the stylesheet stacks them on narrow screens)
        with Horizontal(id="step-body"):
            yield MatrixView(id="matrices")
            yield Vertical(id="plot-slot")
        # docked: stays on the panel's last row while the rest scrolls, and only while more is below
        yield Static(Content.styled("↓ more below: PgDn (or scroll)", "$text-muted"), id="more-below")

    def show(self, trace: Trace, index: int, *, question: Question | None = None, verdict: Verdict | None = None,
             changes: StepChanges | None = None, moved_by: str = "edit") -> None:
        """`question` without `verdict`: quiz mode is asking, so the outputs stay hidden.
        `changes`: what moved in this step's inputs and outputs against the original, by a what-if
        edit or by training (`moved_by`)."""
        self.index = index
        step = trace.steps[index]
        hidden = question is not None and verdict is None
        self.query_one(StepHeader).show(trace, index, hidden=hidden)
        self.query_one(QuizBox).show(question, verdict)
        self.query_one(MatrixView).show(trace, step, hidden=hidden, changes=changes, moved_by=moved_by,
                                         room=self._room())
        slot = self.query_one("#plot-slot", Vertical)
        if slot.children:
            slot.remove_children()
        kind = None if hidden else plot_kind(trace, step)  # every picture shows an output
        slot.display = kind is not None
        self.query_one("#step-body").set_class(kind is not None, "-with-plot")
        if kind is not None:
            # deferred: plotext and textual-plotext load on the first step that has a picture
            from stepper.tui.widgets.step_plot import StepPlot

            caption, entries = legend(trace, step, kind)
            key = Content(" ").join(Content.styled(f"■ {label}", f"ansi_{c}") for label, c in entries)
            slot.mount(Static(Content.assemble((caption, "bold"), "\n", key), classes="plot-legend"),
                       StepPlot(trace, step, kind))
        self.scroll_home(animate=False)
        self.call_after_refresh(self.fit_outputs)

    def _room(self) -> int | None:
        """The rows the outputs will have under the header just updated, worked out before the
        layout, so that the matrices are fitted in the same frame (`fit_outputs` checks it once
        laid out); None while a quiz question (an input box) sits above them."""
        header = self.query_one(StepHeader)
        width = header.content_size.width
        if not width or self.query_one(QuizBox).display:
            return None
        return self.size.height - content_height(header, width) - header.styles.gutter.height - 2

    def fit_outputs(self) -> None:
        """Once the header's height is known: fit the outputs in the rows left under it (the
        "outputs" rule and the "more below" line take one each), then mark what is below."""
        above = sum(w.outer_size.height for w in (self.query_one(StepHeader), self.query_one(QuizBox)) if w.display)
        self.query_one(MatrixView).fit(self.size.height - above - 2)
        self.mark_more()

    def mark_more(self) -> None:
        """Show the "more below" line while part of the step is under the bottom edge.

        Measured without the line itself: it takes a row when shown, and a step that fits the
        panel exactly must not be told it overflows because of its own hint.
        """
        hint = self.query_one("#more-below")
        content = sum(c.outer_size.height for c in self.children if c is not hint and c.display)
        rows = self.size.height
        seen = rows - (1 if hint.display else 0)  # the rows of content in view right now
        hint.display = content > rows and self.scroll_y + seen < content

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # a scroll animation can tick once more while the app shuts down, its children already gone
        if self.is_attached and self.children:
            self.mark_more()

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit_outputs)
