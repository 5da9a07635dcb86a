"""`T`: what training did, update by update. The losses (and validation), the learning rate, the
gradient norm and each layer's over the updates, a cursor on one update (←/→, Home/End, PgUp/PgDn by
epoch), and that update's batch and figures beside them. Enter leaves for the first update's own steps,
checked against torch, in the main screen; H opens the heads view. Everything shown was computed once,
in the main screen's worker.

When the pictures would get fewer than MIN_PLOT_ROWS rows each (a small terminal), the screen shows
one picture at a time, and `v` goes to the next."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from stepper.present.training_view import UpdateView, plotted_words
from stepper.trace import Trace
from stepper.tui.bindings import TRAINING_BINDINGS
from stepper.tui.training_draw import KINDS, legend
from stepper.tui.widgets.key_bar import KeyBar
from stepper.tui.widgets.plot_pane import PlotPane, PlotPanes
from stepper.tui.widgets.title_bar import TitleBar
from stepper.tui.widgets.update_panel import UpdatePanel

READING = """\
The top picture is the loss of each update's batch (blue), measured with the weights before that
update, and, when the scenario holds examples back, the validation loss (red dots) and accuracy (green,
right axis) after each epoch. Below: the learning rate each update used (the schedule), and the total
gradient norm over every parameter before clipping, with the clipping threshold as a red line, and the
same norm for each layer's parameters alone (embed, L0, L1 …, head: the final norm and the output head),
on a log scale. On a small terminal one picture shows at a time: v shows the next. The cyan line is the cursor; beside the pictures, its update's figures and
batch: the examples it read, right-padded with <pad> to the longest (struck through: masked in
attention and left out of the loss)."""


class TrainingScreen(Screen):
    BINDINGS = TRAINING_BINDINGS
    KEYS_HELP = (TRAINING_BINDINGS, READING)  # what `?` lists and says here
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]

    def __init__(self, trace: Trace, views: list[UpdateView], cursor: int = 0,
                 open_heads: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.open_heads = open_heads  # the main screen's: it keeps the heads view's numbers once computed
        self.trace, self.views, self.training_log = trace, views, trace.training
        self.clip = (trace.config.get("optim") or {}).get("clip_grad_norm")
        self.cursor = max(0, min(cursor, len(views) - 1))

    def compose(self) -> ComposeResult:
        from stepper.tui.widgets.training_plot import TrainingPlot

        yield TitleBar(self.trace.scenario, f"training: {self.training_log.updates} updates", id="title-bar")
        with Horizontal(id="training-body"):
            with PlotPanes(id="training-plots"):
                yield Static(Content.styled(plotted_words(self.training_log), "$text-muted"), id="training-caption")
                for kind in KINDS:
                    key = Content(" ").join(Content.styled(f"■ {label}", f"ansi_{colour}")
                                            for label, colour in legend(self.training_log, kind, self.clip))
                    if kind == "layers":
                        key = Content("gradient norm per layer, log scale: ") + key
                    with PlotPane(id=f"pane-{kind}"):
                        yield Static(key, classes="plot-legend")
                        yield TrainingPlot(self.training_log, kind, self.cursor, self.clip, classes="training-plot",
                                           id=f"plot-{kind}")
            with VerticalScroll(id="update-box"):
                yield UpdatePanel(id="update")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(TitleBar).set_mode(training="training screen (T/esc: back)")
        self._show()

    def _show(self) -> None:
        self.query_one(UpdatePanel).show(self.views[self.cursor], len(self.views), self.clip,
                                         self.training_log)

    def action_next_plot(self) -> None:
        self.query_one("#training-plots", PlotPanes).next_pane()

    def action_heads(self) -> None:
        """The heads view, on top of this screen (esc comes back here)."""
        if self.open_heads is not None:
            self.open_heads()

    def action_move(self, by: int) -> None:
        self.move_to(self.cursor + by)

    def action_move_to(self, t: int) -> None:
        self.move_to(t if t >= 0 else len(self.views) - 1)

    def action_move_epoch(self, by: int) -> None:
        here = self.views[self.cursor].epoch
        target = next((v.t for v in self.views if v.epoch == here + by), None)
        self.move_to(target if target is not None else (0 if by < 0 else len(self.views) - 1))

    def move_to(self, t: int) -> None:
        t = max(0, min(t, len(self.views) - 1))
        if t == self.cursor:
            return
        self.cursor = t
        from stepper.tui.widgets.training_plot import TrainingPlot

        for plot in self.query(TrainingPlot):
            plot.move(t)
        self._show()

    def action_first_update_steps(self) -> None:
        """Back to the main screen, on the first update's first step (only update 1 is traced step by step)."""
        self.dismiss((self.cursor, True))
        if self.cursor:
            self.notify(f"Only update 1 is traced step by step; update {self.cursor + 1}'s figures are the "
                        "ones on the training screen, checked against torch.optim with the whole run.",
                        title="training", timeout=6)

    def action_close(self) -> None:
        self.dismiss((self.cursor, False))
