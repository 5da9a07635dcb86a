"""Every key of the app, declared once: the key bar (widgets/key_bar.py), the `?` screen and the keymap all read these."""

from __future__ import annotations

from textual.binding import Binding

_STEP = Binding.Group("step", compact=False)
_ENDS = Binding.Group("ends", compact=False)
_JUMP = Binding.Group("fwd/bwd", compact=False)
_HEADS = Binding.Group("head", compact=False)
_EXAMPLES = Binding.Group("example", compact=False)

# Stepping keys are priority bindings so they act the same wherever focus is (the
# pipeline list would otherwise take Home/End and the arrows for itself).
STEP_BINDINGS = [
    Binding("n,right,space", "next", "next step", key_display="n", id="next", priority=True, group=_STEP),
    Binding("p,left", "previous", "previous step", key_display="p", id="previous", priority=True,
            group=_STEP),
    Binding("home", "first", "first step", id="first", priority=True, group=_ENDS),
    Binding("end", "last", "last step", id="last", priority=True, group=_ENDS),
    Binding("f", "forward_start", "forward start", id="forward-start", priority=True, group=_JUMP),
    Binding("b", "backward_start", "first backward step", id="backward-start", priority=True, group=_JUMP),
    Binding("m", "memory", "memory ↔ cross-attn", id="memory", priority=True,
            tooltip="seq2seq: a cross-attention step ↔ the encoder output it reads"),
    Binding("g", "go_to", "go to", id="go-to", priority=True),
    Binding("e", "export", "export", id="export", priority=True),
    Binding("pagedown,ctrl+d", "scroll_step(1)", "scroll the step down", key_display="pgdn",
            id="scroll-down", show=False, priority=True),
    Binding("pageup,ctrl+u", "scroll_step(-1)", "scroll the step up", key_display="pgup",
            id="scroll-up", show=False, priority=True),
]

# Learning modes. Not priority bindings: while the quiz's answer box has focus they are letters.
# The key bar shows the short description; the `?` screen the tooltip, when there is one.
MODE_BINDINGS = [
    Binding("z", "toggle_quiz", "quiz", id="quiz",
            tooltip="quiz mode on/off: predict each step's output before it is shown"),
    Binding("w", "edit", "edit", id="what-if",
            tooltip="what-if: change a weight or a token, recompute, see what moved"),
    Binding("o", "toggle_edit", "original/edited", id="original-edited",
            tooltip="flip between the original and the edited numbers"),
    Binding("t", "toggle_trained", "before/after", id="before-after",
            tooltip="before/after training: the same step with the trained weights"),
    Binding("T", "training", "training", id="training",
            tooltip="the training screen: loss, lr, gradient norms, each batch"),
    Binding("H", "heads", "heads", id="heads", tooltip="the trained heads and FFN units"),
    Binding("c", "cost", "cost", id="cost", show=False,
            tooltip="the cost screen: FLOPs against sequence length, and memory"),
    Binding("escape", "leave_question", "answer later", key_display="esc", id="leave-question",
            tooltip="leave the quiz question for later (the keys step again)"),
]

# The diff view steps through the paired steps with the same keys as the stepper.
DIFF_BINDINGS = [b for b in STEP_BINDINGS if b.id in {"next", "previous", "first", "last", "scroll-down",
                                                      "scroll-up"}]

# The training screen: a cursor on one update; Enter goes to the traced first update's steps.
TRAINING_BINDINGS = [
    Binding("right,n", "move(1)", "next update", key_display="→", id="update-next", priority=True, group=_STEP),
    Binding("left,p", "move(-1)", "previous update", key_display="←", id="update-previous", priority=True,
            group=_STEP),
    Binding("home", "move_to(0)", "first update", id="update-first", priority=True, group=_ENDS),
    Binding("end", "move_to(-1)", "last update", id="update-last", priority=True, group=_ENDS),
    Binding("pagedown", "move_epoch(1)", "next epoch", key_display="pgdn", id="epoch-next", priority=True),
    Binding("pageup", "move_epoch(-1)", "previous epoch", key_display="pgup", id="epoch-previous", priority=True),
    Binding("enter", "first_update_steps", "update 1's steps", id="update-steps",
            tooltip="update 1 step by step, checked, in the main screen"),
    Binding("v", "next_plot", "next picture", id="next-picture",
            tooltip="the next picture, when they show one at a time"),
    Binding("H", "heads", "heads", id="training-heads", tooltip="the trained heads and FFN units"),
    Binding("escape,T", "close", "back", key_display="esc", id="close-training"),
]

# The heads view: a cursor on one head (layer-major) and one example of the data set.
HEADS_BINDINGS = [
    Binding("down,j", "move_head(1)", "next head", key_display="↓", id="head-next", priority=True, group=_HEADS),
    Binding("up,k", "move_head(-1)", "previous head", key_display="↑", id="head-previous", priority=True,
            group=_HEADS),
    Binding("right,n", "move_example(1)", "next example", key_display="→", id="example-next", priority=True,
            group=_EXAMPLES),
    Binding("left,p", "move_example(-1)", "previous example", key_display="←", id="example-previous",
            priority=True, group=_EXAMPLES),
    Binding("escape,H", "close", "back", key_display="esc", id="close-heads"),
]

COST_BINDINGS = [Binding("escape,c", "close", "back", key_display="esc", id="close-cost")]

# The step lists (pipeline, diff) keep only their own movement keys: the inherited Home/End and
# paging belong to the screen's stepping bindings, and would otherwise shadow and reorder them.
LIST_BINDINGS = [
    Binding("up", "cursor_up", "previous in list", show=False),
    Binding("down", "cursor_down", "next in list", show=False),
    Binding("enter", "select", "open step", show=False),
]

APP_BINDINGS = [
    Binding("question_mark", "help", "help", key_display="?", id="help"),
    Binding("q", "quit", "quit", id="quit"),
]

# What the keys look like in the help screen: every key of a binding, not just the first.
KEY_NAMES = {"right": "→", "left": "←", "space": "space", "question_mark": "?", "pagedown": "PgDn",
             "pageup": "PgUp", "home": "Home", "end": "End", "ctrl+d": "^d", "ctrl+u": "^u",
             "ctrl+p": "^p", "escape": "Esc"}


def keys_text(binding: Binding) -> str:
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def every_binding_id() -> set[str]:
    """The ids a keymap file may name."""
    return {b.id for b in (*STEP_BINDINGS, *MODE_BINDINGS, *APP_BINDINGS, *TRAINING_BINDINGS, *HEADS_BINDINGS,
                           *COST_BINDINGS)
            if b.id}
