"""Shown only while a big scenario's trace is built in a worker thread."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static


class LoadingScreen(Screen):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.scenario_name = name

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(f"Computing every step of {self.scenario_name}…", id="loading-text")
        yield LoadingIndicator()
