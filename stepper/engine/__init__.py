"""The engine: explicit numpy formulas for every stage, forward and backward, recorded as a Trace.

Numpy only: importing this package must never load torch or textual (a test checks).
"""

from stepper.engine.run import build_trace, loss_fn

__all__ = ["build_trace", "loss_fn"]
