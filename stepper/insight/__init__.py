"""What training did, measured: the trained model on the data set's examples, summarised with numbers.

Numpy only (it runs the engine's recorded pass with the trained weights); the TUI and the export both
read these summaries, and a pattern is named only when its measured share passes a stated threshold.

- `heads.py`: `head_summaries(sc, params, examples) -> list[HeadSummary]`: per attention, layer and head,
  the attention map of each example and where its weight goes (previous token, same token, first token,
  `<pad>`…; a cross-attention's on the source, with its alignment by position), with the pattern named
  when a share passes `PATTERN_THRESHOLD`.
- `units.py`: `top_units(sc, params, examples, k) -> list[UnitSummary]`: per stack and layer, the FFN units
  that fire most, and on which example and token.
- `layers.py`: `layer_work(trace) -> list[LayerWork]`: per stack, layer and token, ‖residual update‖ /
  ‖stream‖, for the before/after comparison.
- `stacks.py`: where those read a model's steps: one stack (`fwd.L{i}…`), or a seq2seq's encoder
  (`fwd.enc.L{i}…`) and decoder (`fwd.dec.L{i}…`: self-attention, cross-attention, FFN).
- `before_after.py`: `trained_scenario(sc, trace)` (the traced example with the trained weights) and
  `changed_entries(before, after)` (which entries of a step's outputs moved, and by how much).
- `passes.py`: one recorded forward pass per example (unpadded), and the default examples (the data
  set's first MAX_EXAMPLES = 24 training examples; the traced example without `data:`).
- `from_trace.py`: `scenario_of(trace)`, the scenario rebuilt from a trace's config and weights, for a
  view that holds only the Trace (the markdown export's "What training did").
"""
