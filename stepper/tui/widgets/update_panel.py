"""The update under the training screen's cursor: its figures (each layer's gradient norm among them),
then its batch, padded as the trainer padded it, with each <pad> position dimmed and struck through
(words and numbers: present.training_view, present.layer_norms)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from stepper.present.layer_norms import layer_figures
from stepper.present.training_view import UpdateView, batch_rows, update_figures, update_heading
from stepper.trace import TrainingLog
from stepper.tui.widgets.in_place import update_in_place


class UpdatePanel(Static):
    def show(self, view: UpdateView, total: int, clip: float | None, log: TrainingLog | None = None) -> None:
        update_in_place(self, Content.assemble(*self.parts(view, total, clip, log)))

    @staticmethod
    def parts(view: UpdateView, total: int, clip: float | None, log: TrainingLog | None = None) -> list:
        parts: list = [(update_heading(view, total), "bold $text-accent"), "\n"]
        figures = update_figures(view, clip)
        width = max(len(label) for label, _ in figures)
        for label, value in figures:
            style = "bold $text-warning" if label == "clipping" and view.clipped else (
                "bold $text-error" if label == "stopped" else "$text")
            parts += [(label.ljust(width) + "  ", "$text-muted"), (value, style), "\n"]
        per_layer = layer_figures(log, view.t) if log is not None else []
        if per_layer:
            parts.append(("grad norm per layer (before clipping)\n", "$text-muted"))
            name_width = max(len(name) for name, _ in per_layer)
            for name, value in per_layer:
                parts += [("  " + name.ljust(name_width) + "  ", "$text-muted"), (value, "$text"), "\n"]
        rows = batch_rows(view)
        parts += ["\n", (f"batch: {len(rows)} example{'s' * (len(rows) != 1)}", "bold $text-primary"),
                  ("  (<pad> struck: masked, not in the loss)" if any(p for _, toks, _ in rows for _, p in toks)
                   else "", "$text-muted"), "\n"]
        for name, tokens, label in rows:
            parts.append((name.rjust(4) + " ", "$text-muted"))
            for token, pad in tokens:
                parts += [(token, "dim strike $text-muted" if pad else "$text"), " "]
            if label:
                parts.append((f"→ {label}", "italic $text-secondary"))
            parts.append("\n")
        return parts
