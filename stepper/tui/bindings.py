"""Every key of the app, declared once: the Footer, the `?` screen and the keymap all read these."""

from __future__ import annotations

from textual.binding import Binding

_STEP = Binding.Group("step", compact=False)
_ENDS = Binding.Group("ends", compact=False)
_JUMP = Binding.Group("fwd/bwd", compact=False)

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
    Binding("g", "go_to", "go to", id="go-to", priority=True),
    Binding("e", "export", "export", id="export", priority=True),
    Binding("pagedown,ctrl+d", "scroll_step(1)", "scroll the step down", key_display="pgdn",
            id="scroll-down", show=False, priority=True),
    Binding("pageup,ctrl+u", "scroll_step(-1)", "scroll the step up", key_display="pgup",
            id="scroll-up", show=False, priority=True),
]

APP_BINDINGS = [
    Binding("question_mark", "help", "help", key_display="?", id="help"),
    Binding("q", "quit", "quit", id="quit"),
]

# What the keys look like in the help screen: every key of a binding, not just the first.
KEY_NAMES = {"right": "→", "left": "←", "space": "space", "question_mark": "?", "pagedown": "PgDn",
             "pageup": "PgUp", "home": "Home", "end": "End", "ctrl+d": "^d", "ctrl+u": "^u",
             "ctrl+p": "^p"}


def keys_text(binding: Binding) -> str:
    return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))
