"""How `stepper run` gets its first frame out fast; it imports the app, never the reverse.

- reader.py: a forked child reads the scenario and builds the trace while this process imports
  Textual, and sends the first frame's text (first_frame.py) ahead of the pickled trace;
- frame_cache.py: a scenario opened again gets last time's first frame at once;
- preview.py (with pipeline_preview.py, key_bar_preview.py): that frame painted before numpy loads,
  with a stand-in for the pipeline list (the widget that costs the most to draw) and the key bar's
  picture for the main screen's keys, and the stepping keys pressed on it replayed on the main
  screen (app.py);
- collector.py: the garbage collector held while all this happens, then `gc.freeze`.

What each piece pays (`python benchmarks/first_frame.py --runs 7`, mini.yaml, 120×40, a Textual hello
world at about 230 ms; medians): everything 290 ms (1.33×); without the frame cache (`--cold`) 384 ms
(1.71×); without the fork, so without the reader, the preview and the cache (STEPPER_NO_FORK=1)
451 ms (1.91×); without holding the collector about 25–30 ms more. Each one holds the 1.5× bar.
"""
