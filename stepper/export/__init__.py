"""Exports: pure functions from a Trace to text (markdown, JSON), and safe file writing."""
