"""One step of a trace as a notebook shows it: a rich renderable (`__rich__`), HTML for Jupyter
(`_repr_html_`, rich's own export, every string escaped) and plain text (`repr`).

Its words and numbers come from stepper/present/, as the app's and the export's do: the check
line, the shapes, one number format per matrix. rich is imported only when the step is shown.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from stepper.present.labels import dims, shape_line, visible_label
from stepper.present.numbers import MatrixFormat
from stepper.present.verdicts import check_line, mark
from stepper.trace import Step, Tensor, Trace
from stepper.verify.verdicts import Check
from stepper.visible import visible

WIDTH = 110  # characters of a rendered step outside a live console: a notebook cell's width
HTML = ('<pre style="font-family:Menlo,\'DejaVu Sans Mono\',consolas,\'Courier New\',monospace;'
        'line-height:1.25">{code}</pre>')


@dataclass(frozen=True)
class StepView:
    trace: Trace
    data: Step
    check: Check | None  # None: not verified

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def title(self) -> str:
        return self.data.title

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        """Each output's symbol → its values (the engine's float64 arrays, not copies: read them only)."""
        return {name: t.value for name, t in self.data.outputs.items()}

    def __rich__(self):
        from rich.console import Group
        from rich.text import Text

        step = self.data
        header = Text.assemble((f"{mark(self.check)} ", "bold"), (visible(step.title, keep=""), "bold"),
                               (f"   {step.id}", "dim"))
        parts = [header, Text(visible(step.formula.plain, keep="")), Text(shape_line(step), style="dim")]
        for name, tensor in step.outputs.items():
            parts.extend(_tables(name, tensor))
        if self.check is not None:
            parts.append(Text(check_line(step, self.check), style="green" if self.check.ok else "red"))
        return Group(*parts)

    def _rendered(self, color: bool):
        from rich.console import Console

        console = Console(record=True, file=io.StringIO(), width=WIDTH, color_system="truecolor" if color else None,
                          force_terminal=color, force_jupyter=False)
        console.print(self)
        return console

    def _repr_html_(self) -> str:
        # a fragment, as a notebook's output is: rich escapes every string it writes into it
        return self._rendered(color=True).export_html(inline_styles=True, code_format=HTML)

    def __repr__(self) -> str:
        text = self._rendered(color=False).export_text()
        return "\n".join(line.rstrip() for line in text.splitlines())  # a table's title is padded to its width


def _tables(name: str, tensor: Tensor) -> list:
    """The output as tables with its token labels: a matrix as one, a stack of them ([H, T, T]) as one
    per leading index, a vector as one row, a scalar as one cell."""
    from rich.table import Table
    from rich.text import Text

    values = np.asarray(tensor.value)
    grid = values.reshape(1, 1) if values.ndim == 0 else values.reshape(1, -1) if values.ndim == 1 else values
    stack = grid.reshape(-1, *grid.shape[-2:])
    number = MatrixFormat(values)
    tables = []
    for n, matrix in enumerate(stack):
        where = "" if len(stack) == 1 else f"[{', '.join(map(str, np.unravel_index(n, grid.shape[:-2])))}]"
        table = Table(title=Text(visible(f"{name}{where} {dims(values.shape)}", keep=""), style="bold"),
                      title_justify="left", show_edge=False, pad_edge=False)
        rows = tensor.rows if tensor.rows and len(tensor.rows) == matrix.shape[0] else None
        cols = tensor.cols if tensor.cols and len(tensor.cols) == matrix.shape[1] else None
        table.add_column("")
        for j in range(matrix.shape[1]):
            table.add_column(Text(visible(visible_label(cols[j]), keep="") if cols else str(j)), justify="right")
        for i, row in enumerate(matrix):
            label = visible(visible_label(rows[i]), keep="") if rows else ("" if values.ndim < 2 else str(i))
            table.add_row(Text(label, style="dim"), *(Text(number(float(v))) for v in row))
        tables.append(table)
    return tables
