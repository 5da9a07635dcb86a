"""What the TUI tests share: reading the screen, finding the main screen, walking every step."""

from __future__ import annotations

import re

from stepper.tui.screens.main import MainScreen


def screen_text(app) -> str:
    """The characters on the terminal right now, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def main_screen(app) -> MainScreen:
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


async def walk_every_step(app, pilot) -> None:
    """Press `n` through the whole trace; each step must show its number and no raw -inf / nan."""
    steps = main_screen(app).trace.steps
    await pilot.pause()
    for i, step in enumerate(steps):
        text = screen_text(app)
        assert f"Step {i + 1}/{len(steps)}" in text, step.id
        assert "-inf" not in text and not re.search(r"\bnan\b", text)
        await pilot.press("n")


async def burst(pilot, *keys: str) -> None:
    """Press `keys` as a fast typist or a paste does: every key is queued before the first is handled
    (`pilot.press` waits for each key to settle, which hides races between them)."""
    from textual import events

    app = pilot.app
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()
