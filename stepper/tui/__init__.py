"""The terminal app: renders an engine Trace step by step; it computes nothing itself.

Import `stepper.tui.app.run_app`; this package imports nothing heavy on its own.
"""
