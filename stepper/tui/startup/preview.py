"""The first frame, painted before numpy is loaded: the pipeline, the first step's header and its
meaning, from the plain text pieces the launcher's child sent ahead of the trace (see first_frame.py).

It has the main screen's ids, layout and keys, so when the main screen replaces it a moment
later the only change is the matrices appearing; the stepping keys pressed meanwhile are kept
and replayed there. Importing this module must not load numpy.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from stepper.tui.bindings import APP_BINDINGS, MODE_BINDINGS, STEP_BINDINGS
from stepper.tui.keymap import remapped
from stepper.tui.startup.key_bar_preview import KeyBarPreview
from stepper.tui.startup.pipeline_preview import PipelinePreview
from stepper.tui.widgets.title_bar import BEFORE_TRAINING, TitleBar

# the main screen's key bar shows these only in a state the first frame is never in
HIDDEN_AT_FIRST = frozenset({"toggle_edit", "leave_question"})
TRAINING_ACTIONS = frozenset({"toggle_trained", "training", "heads"})  # shown only for a scenario that trains


class PreviewScreen(Screen):
    BINDINGS = [*STEP_BINDINGS, *MODE_BINDINGS]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (170, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (50, "-very-tall")]

    def __init__(self, frame: dict) -> None:
        super().__init__()
        self.frame = frame
        self.held: list[str] = []  # keys pressed before the main screen came, as actions it replays

    def compose(self) -> ComposeResult:
        # the size classes Textual would add on the first resize, added now: that resize then changes
        # no style, and the first frame is laid out once instead of twice
        width, height = self.app.size
        for breakpoints, length in ((self.HORIZONTAL_BREAKPOINTS, width), (self.VERTICAL_BREAKPOINTS, height)):
            self.add_class([name for start, name in breakpoints if length >= start][-1])
        f = self.frame
        yield TitleBar(f["scenario"], f["title"], id="title-bar")
        with Horizontal(id="body"):
            yield PipelinePreview(f["rows"], f["highlight"], id="pipeline")
            with Container(id="main"):
                with VerticalScroll(id="step"):
                    yield Static(Content.assemble(*f["header"]), id="step-header")
                with Vertical(id="details"):
                    yield Static(Content.assemble(*f["meaning"]), id="meaning")
                    yield Static(Content.assemble(*f["check"]), id="check")
        shown = [b for b in (*STEP_BINDINGS, *MODE_BINDINGS, *APP_BINDINGS) if self.check_action(b.action, ())]
        shown = remapped(shown, getattr(self.app, "keymap_in_use", {}))
        palette = Binding(self.app.COMMAND_PALETTE_BINDING, "command_palette", "palette",
                          key_display=self.app.COMMAND_PALETTE_DISPLAY)
        yield KeyBarPreview(shown, palette)

    def on_mount(self) -> None:
        if self.frame.get("trains"):
            self.query_one(TitleBar).set_mode(training=BEFORE_TRAINING)

    def on_resize(self) -> None:
        self.query_one(KeyBarPreview).set_class(self.size.width < 100, "-no-palette")  # as the main screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "memory":  # as the main screen: an encoder–decoder's key only
            return bool(self.frame.get("seq2seq"))
        return action not in HIDDEN_AT_FIRST and (action not in TRAINING_ACTIONS or bool(self.frame.get("trains")))


# kept for the main screen: `n n` pressed while the trace loads still steps twice. Not the keys
# that open a dialog or a mode (g, e, z, w): what they would do next depends on what is on screen
HELD = ("next", "previous", "first", "last", "forward_start", "backward_start", "scroll_step")


def _hold(action: str):
    def hold(self: PreviewScreen, *parameters: object) -> None:
        self.held.append(f"{action}({', '.join(map(repr, parameters))})" if parameters else action)
    return hold


for _name in HELD:
    setattr(PreviewScreen, f"action_{_name}", _hold(_name))
