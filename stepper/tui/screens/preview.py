"""The first frame, painted before numpy is loaded: the pipeline, the first step's header and its
meaning, from the plain text pieces the launcher's child sent ahead of the trace (see parts.py).

It has the main screen's ids, layout and keys, so when the main screen replaces it a moment
later the only change is the matrices appearing. Importing this module must not load numpy.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from stepper.tui.bindings import LIST_BINDINGS, MODE_BINDINGS, STEP_BINDINGS
from stepper.tui.widgets.title_bar import TitleBar

# the main screen's Footer shows these only in a state the first frame is never in
HIDDEN_AT_FIRST = frozenset({"toggle_edit", "leave_question"})


class FirstList(OptionList, inherit_bindings=False):
    BINDINGS = LIST_BINDINGS  # as the pipeline list, so the Footer lists the same keys in the same order


class PreviewScreen(Screen):
    BINDINGS = [*STEP_BINDINGS, *MODE_BINDINGS]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (50, "-very-tall")]

    def __init__(self, frame: dict) -> None:
        super().__init__()
        self.frame = frame

    def compose(self) -> ComposeResult:
        f = self.frame
        yield TitleBar(f["scenario"], f["title"], id="title-bar")
        with Horizontal(id="body"):
            yield FirstList(*(Option(Content.assemble(*parts), id=option_id, disabled=option_id is None)
                               for parts, option_id in f["rows"]), id="pipeline")
            with Container(id="main"):
                with VerticalScroll(id="step"):
                    yield Static(Content.assemble(*f["header"]), id="step-header")
                with Vertical(id="details"):
                    yield Static(Content.assemble(*f["meaning"]), id="meaning")
                    yield Static(Content.assemble(*f["check"]), id="check")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(FirstList).highlighted = self.frame["highlight"]

    def on_resize(self) -> None:
        self.query_one(Footer).show_command_palette = self.size.width >= 100  # as the main screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # keys pressed in the moment before the main screen arrives do nothing, quietly
        return action not in HIDDEN_AT_FIRST
