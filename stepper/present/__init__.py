"""What turns a Trace into words and numbers for people: the one layer the TUI and the export share.

Numpy only (no Textual, no rich, no torch), and it only reads a Trace: nothing here changes a Step.
The engine never imports it; the engine records arrays and settings, this layer says them.

- numbers: every way a number is written (the markdown's tables, the app's matrices and lone
  numbers, the worked lines), each a named variant over the same round-off rule
- labels: tokens and row/column labels made visible; shapes as `[2×4]`
- verdicts: ✓ / ✗ / ·, what a step was checked against, the check line, training's divergence
- roles: which array each symbol of a shared formula stands for, and the formula in those names
- provenance: the step an input came from, and the numbers a lesson was written for
- captions: where a step is, its settings, the text generated so far, what its table's axes are
- worked, worked_entries, worked_text, exact_zeros: one entry of a step worked out in numbers
- outline: the steps grouped into phases and sections, as the app lists them and the export heads them
"""
