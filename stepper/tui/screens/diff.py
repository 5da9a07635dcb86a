"""`stepper diff A B --tui`: two traces side by side, paired by step id, with their differences."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from stepper.diff import TraceDiff
from stepper.present.numbers import lone_number
from stepper.trace import Trace
from stepper.tui.bindings import DIFF_BINDINGS
from stepper.tui.widgets.diff_list import DiffList
from stepper.tui.widgets.diff_view import DiffView
from stepper.tui.widgets.key_bar import KeyBar
from stepper.tui.widgets.step_header import StepHeader
from stepper.tui.widgets.title_bar import TitleBar


class DiffScreen(Screen):
    BINDINGS = DIFF_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]

    entry: reactive[int] = reactive(0, init=False)

    def __init__(self, a: Trace, b: Trace, diff: TraceDiff) -> None:
        super().__init__()
        self.a, self.b, self.diff = a, b, diff
        self.pairs = {sd.step_id: sd for sd in diff.paired}

    def compose(self) -> ComposeResult:
        yield TitleBar("diff", f"A = {self.diff.a_name}   B = {self.diff.b_name}", id="title-bar")
        with Horizontal(id="body"):
            yield DiffList(self.a, self.b, self.diff, id="diff-list")
            with VerticalScroll(id="diff-step"):
                yield StepHeader(id="step-header")
                yield Static(id="diff-summary")
                yield DiffView(id="diff-view")
        yield KeyBar()

    def on_mount(self) -> None:
        d = self.diff
        differ = sum(1 for sd in d.paired if sd.max_abs > 0)
        self.query_one(TitleBar).set_status(
            f"loss A {lone_number(d.loss_a)}  B {lone_number(d.loss_b)} · {differ} of {len(d.paired)} paired steps differ",
            "$text-secondary")
        self._show(self.entry)

    def watch_entry(self, entry: int) -> None:
        self._show(entry)

    def _show(self, entry: int) -> None:
        side, index = self.query_one(DiffList).entries[entry]
        trace = self.a if side == "a" else self.b
        step = trace.steps[index]
        pair = self.pairs.get(step.id) if side == "a" else None
        self.query_one(DiffList).show_entry(entry)
        self.query_one(StepHeader).show(trace, index)
        if pair is None:
            summary = Content.styled(f"only in {side.upper()}: {step.id}", "bold $text-warning")
        elif pair.max_abs == 0:
            summary = Content.styled("A and B agree exactly on this step", "$text-muted")
        else:
            size = pair.size(lambda x: "∞" if x == float("inf") else lone_number(x))  # "—": nothing to subtract
            summary = Content.assemble(("max |B − A| = ", "$text-muted"), (size, "bold $text-accent"))
        self.query_one("#diff-summary", Static).update(summary)
        self.query_one(DiffView).show(step, pair, side)
        self.query_one("#diff-step", VerticalScroll).scroll_home(animate=False)

    def go_to(self, entry: int) -> None:
        self.entry = max(0, min(entry, len(self.query_one(DiffList).entries) - 1))

    def on_diff_list_chosen(self, event: DiffList.Chosen) -> None:
        self.go_to(event.entry)

    def action_next(self) -> None:
        self.go_to(self.entry + 1)

    def action_previous(self) -> None:
        self.go_to(self.entry - 1)

    def action_first(self) -> None:
        self.go_to(0)

    def action_last(self) -> None:
        self.go_to(len(self.query_one(DiffList).entries) - 1)

    def action_scroll_step(self, pages: int) -> None:
        panel = self.query_one("#diff-step", VerticalScroll)
        (panel.scroll_page_down if pages > 0 else panel.scroll_page_up)(animate=False)
