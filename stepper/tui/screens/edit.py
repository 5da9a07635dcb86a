"""`w`: the what-if dialog. Pick a parameter cell (or a token), give it a new value; the app
recomputes everything in a worker and marks what moved. Choosing only: no numbers change here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from stepper.present.labels import dims
from stepper.present.numbers import lone_number
from stepper.scenario import Scenario
from stepper.trace import Step, Trace
from stepper.tui.whatif_view import EditRequest, param_labels

TOKENS = "\0tokens"  # the Select value standing for the input tokens (no parameter has this name)
INTRO = ("Change one number of a parameter, or one token of the input. The whole trace is computed again "
         "and checked again; every cell the change reached is marked •, every step it reached ◆.")


class EditScreen(ModalScreen[EditRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel", id="cancel-edit")]

    def __init__(self, scenario: Scenario, trace: Trace, step: Step, *, has_edits: bool) -> None:
        super().__init__()
        self.scenario, self.step, self.has_edits = scenario, step, has_edits
        self.labels = param_labels(trace)
        self.next_token = scenario.task.kind == "next_token"

    def _targets(self) -> tuple[list[tuple[str, str]], str]:
        """(options, the default): this step's own parameters first, then the tokens, then the rest."""
        here = [t.key for t in self.step.inputs.values() if t.is_param and t.key in self.scenario.params]
        options = [(f"{name} {dims(self.scenario.params[name].shape)} · in this step", name) for name in here]
        if self.scenario.tokens:
            options.append(("the input tokens", TOKENS))
        options += [(f"{name} {dims(value.shape)}", name) for name, value in self.scenario.params.items()
                    if name not in here]
        uses_tokens = self.scenario.tokens and ("ids" in self.step.inputs or "tokens" in self.step.inputs)
        return options, TOKENS if uses_tokens else options[0][1]

    def compose(self) -> ComposeResult:
        options, default = self._targets()
        with Vertical(id="edit-box"):
            yield Static(Content.styled("What if…?", "bold $text-primary"), id="edit-title")
            yield Static(INTRO, classes="edit-intro")
            yield Select(options, value=default, allow_blank=False, id="edit-target")
            with Horizontal(id="edit-where"):
                yield Label("row", id="edit-row-label")
                yield Select([("0", ("", 0))], allow_blank=False, id="edit-row")
                yield Label("column", id="edit-col-label")
                yield Select([("0", ("", 0))], allow_blank=False, id="edit-col")
            yield Static(id="edit-now")
            yield Input(placeholder="new value, e.g. 3 or -0.5", type="number", id="edit-value")
            yield Static(id="edit-error")
            with Horizontal(id="edit-buttons"):
                yield Button("Recompute", variant="primary", id="edit-apply")
                yield Button("Undo all edits", id="edit-reset", disabled=not self.has_edits)
                yield Button("Cancel", id="edit-cancel")

    def on_mount(self) -> None:
        self._retarget(self.query_one("#edit-target", Select).value)

    @staticmethod
    def _options(target: str, labels: list[str] | None, n: int) -> list[tuple[str, tuple[str, int]]]:
        # values carry their target: a Select whose value did not change keeps showing its old label
        return [(labels[i] if labels and len(labels) == n else str(i), (target, i)) for i in range(n)]

    def _retarget(self, target: str) -> None:
        row, col = self.query_one("#edit-row", Select), self.query_one("#edit-col", Select)
        tokens = target == TOKENS
        last = len(self.scenario.tokens) - 1
        shape = () if tokens else self.scenario.params[target].shape
        if tokens:
            row.set_options([(f"{i}: {t}" + (" (the target)" if self.next_token and i == last else ""),
                              (target, i)) for i, t in enumerate(self.scenario.tokens)])
            col.set_options([(t, (target, t)) for t in self.scenario.vocab])
        else:
            rows, cols = self.labels.get(target, (None, None))
            if len(shape) == 2:
                row.set_options(self._options(target, rows, shape[0]))
            col.set_options(self._options(target, cols, shape[-1]))
        row.display = self.query_one("#edit-row-label").display = tokens or len(shape) == 2
        self.query_one("#edit-row-label", Label).update("position" if tokens else "row")
        self.query_one("#edit-col-label", Label).update("new token" if tokens else "column")
        self.query_one("#edit-value", Input).display = not tokens
        self._describe()

    def _index(self) -> tuple[int, ...]:
        target = self.query_one("#edit-target", Select).value
        col = self.query_one("#edit-col", Select).value[1]
        if self.scenario.params[target].ndim == 2:
            return (self.query_one("#edit-row", Select).value[1], col)
        return (col,)

    def _describe(self) -> None:
        target = self.query_one("#edit-target", Select).value
        if target == TOKENS:
            now = self.scenario.tokens[self.query_one("#edit-row", Select).value[1]]
        else:
            now = lone_number(float(self.scenario.params[target][self._index()]))
        self.query_one("#edit-now", Static).update(Content.assemble(("now  ", "$text-muted"), (now, "bold")))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "edit-target":
            self._retarget(event.value)
        else:
            self._describe()

    def _request(self) -> EditRequest | None:
        target = self.query_one("#edit-target", Select).value
        if target == TOKENS:
            return EditRequest("token", position=self.query_one("#edit-row", Select).value[1],
                               token=self.query_one("#edit-col", Select).value[1])
        try:
            value = float(self.query_one("#edit-value", Input).value)
        except ValueError:
            self.query_one("#edit-error", Static).update(Content.styled("type a number first", "$text-error"))
            self.query_one("#edit-value", Input).focus()
            return None
        return EditRequest("param", name=target, index=self._index(), value=value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if (request := self._request()) is not None:
            self.dismiss(request)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "edit-apply":
            if (request := self._request()) is not None:
                self.dismiss(request)
        elif event.button.id == "edit-reset":
            self.dismiss(EditRequest("reset"))
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
