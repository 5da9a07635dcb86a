"""`H`: the trained model's heads over the data set's examples. A cursor on one head (↑/↓, layer-major)
and one example (←/→): that head's attention map on that example, the head's summary (its shares
before → after training, a pattern named only past the stated threshold) and the FFN units of its
layer that fire most.

The numbers come from `stepper.insight.trained.trained_insight`, the function the markdown export's
"What training did" calls: computed once, in a worker, kept by the main screen. The screen paints at
once with "computing…" and fills in when `InsightReady` arrives."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from stepper.insight.trained import TrainedInsight
from stepper.trace import Trace
from stepper.tui.bindings import HEADS_BINDINGS
from stepper.tui.screens.error import ErrorScreen
from stepper.tui.widgets.attention_map import AttentionMap
from stepper.tui.widgets.head_list import HeadList
from stepper.tui.widgets.head_summary import HeadSummaryPanel
from stepper.tui.widgets.key_bar import KeyBar
from stepper.tui.widgets.title_bar import TitleBar

READING = """\
Left: every head of the trained model, with where most of its weight goes, averaged over every real
(non-<pad>) query row of the examples. Right: the head under the cursor on one example (rows: the
query tokens, columns: the keys each looks at, a cross-attention's the source tokens; each row sums to
1), then its shares before → after training and the FFN units of its layer that fire most. A head is
given a pattern only when the share passes the threshold stated under it; otherwise it says so, with
its largest share. A seq2seq's heads are listed under Encoder self-attention, Decoder self-attention
and Cross-attention."""


class InsightReady(Message):
    """The worker's answer: the summaries of what training did, or `error`."""

    def __init__(self, insight: TrainedInsight | None, error: str | None = None) -> None:
        super().__init__()
        self.insight, self.error = insight, error


class HeadsScreen(Screen):
    BINDINGS = HEADS_BINDINGS
    KEYS_HELP = (HEADS_BINDINGS, READING)  # what `?` lists and says here
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal")]

    def __init__(self, trace: Trace, insight: TrainedInsight | None, after: Trace | None = None,
                 keep: Callable[[TrainedInsight], None] | None = None) -> None:
        """`insight`: the summaries when computed already; else they are computed here, from `trace` (and
        `after`, the trained trace of the traced example when built already), and handed to `keep`."""
        super().__init__()
        self.trace, self.insight, self.after, self.keep = trace, insight, after, keep
        self.head, self.example = 0, 0

    def compose(self) -> ComposeResult:
        yield TitleBar(self.trace.scenario, "heads after training", id="title-bar")
        yield Static("computing the heads over the examples…", id="heads-waiting")
        with Horizontal(id="heads-body"):
            yield HeadList(id="head-list")
            with VerticalScroll(id="head-box"):
                yield AttentionMap(id="head-map")
                yield HeadSummaryPanel(id="head-summary")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(TitleBar).set_mode(training="heads view (H/esc: back)")
        if self.insight is not None:
            self._ready(self.insight)
            return
        self.query_one("#heads-body").display = False
        trace, after = self.trace, self.after

        def body() -> None:
            from stepper.insight.trained import trained_insight

            try:
                insight = trained_insight(trace, after)
            except Exception as exc:
                self.post_message(InsightReady(None, f"{type(exc).__name__}: {exc}"))
            else:
                self.post_message(InsightReady(insight))

        self.run_worker(body, thread=True, exclusive=True, group="heads", exit_on_error=False)

    def on_insight_ready(self, event: InsightReady) -> None:
        if event.insight is None:
            self.app.push_screen(ErrorScreen("Summarising the heads failed", event.error))
            return
        if self.keep is not None:
            self.keep(event.insight)
        self._ready(event.insight)

    def _ready(self, insight: TrainedInsight) -> None:
        self.insight = insight
        waiting = self.query_one("#heads-waiting", Static)
        if not insight.heads_after:
            waiting.update("This model has no attention heads (an mlp): nothing to show here.")
            return
        waiting.display = False
        self.query_one("#heads-body").display = True
        self._show()

    def _show(self) -> None:
        seen = self.insight
        before, after = seen.heads_before[self.head], seen.heads_after[self.head]
        example = seen.examples[self.example]
        self.query_one(HeadList).show(seen.heads_after, self.head)
        self.query_one(AttentionMap).show(after, self.example, str(example.label or ""))
        self.query_one(HeadSummaryPanel).show(before, after, seen.units, seen.examples)

    def action_move_head(self, by: int) -> None:
        if self.insight is not None and self.insight.heads_after:
            self.head = max(0, min(self.head + by, len(self.insight.heads_after) - 1))
            self._show()

    def action_move_example(self, by: int) -> None:
        if self.insight is not None and self.insight.heads_after:
            self.example = max(0, min(self.example + by, len(self.insight.examples) - 1))
            self._show()

    def action_close(self) -> None:
        self.dismiss(None)
