"""Python's cyclic garbage collector, held off while the app starts.

Measured: 25–30 ms of the first frame's wait (see __init__.py) go to the collector walking
start-up's objects again and again; `gc.freeze` afterwards keeps stepping from walking Textual's classes."""

from __future__ import annotations

import gc


def hold_collector() -> None:
    """Keep Python's cyclic garbage collector off while the app starts.

    Start-up creates hundreds of thousands of objects that live for the whole session (Textual's
    modules and classes, the stylesheet, the widgets, the trace), and the collector would walk
    them again and again (see above). The little cyclic garbage made meanwhile waits for
    `release_collector`. A long wait (the loading screen of a big scenario) turns the collector
    back on at once instead: `resume_collector`.
    """
    gc.disable()


def release_collector() -> None:
    """Once the main screen is up: collect once, set the start-up objects aside, collect as usual.

    Frozen objects are skipped by every later collection, so stepping never pays to walk Textual's
    classes again; the garbage is collected first so that none of it is frozen with them. A no-op
    unless the collector is held (tests open the app without `hold_collector`).
    """
    if not gc.isenabled():
        gc.collect()
        gc.freeze()
        gc.enable()


def resume_collector() -> None:
    """The collector back on, nothing frozen: for a start-up that will take a while."""
    gc.enable()
