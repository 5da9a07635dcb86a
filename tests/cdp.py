"""A small client of Chromium's DevTools protocol, for the browser test of `stepper serve`: a headless
Chromium started with a debugging port, one page driven over its websocket (websocket-client)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# textual-serve's page keeps its xterm.js Terminal in a closure; the Terminal's constructor sets
# `this._core`, so a setter on Object.prototype, installed before the page's scripts run, sees each one
CATCH_TERMINALS = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "_core", {configurable: true, set(value) {
  Object.defineProperty(this, "_core", {value, writable: true, configurable: true, enumerable: true});
  if ("buffer" in this) window.__terminals.push(this);
}});
"""
# the text on the terminal's screen, one line per row
SCREEN = """(() => { const t = window.__terminals[0]; if (!t) return "";
  const b = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) { const line = b.getLine(b.viewportY + y); rows.push(line ? line.translateToString(true) : ""); }
  return rows.join("\\n"); })()"""


def browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"no {what} after {timeout:g} s")


class Page:
    def __init__(self, websocket_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self.sent = 0

    def call(self, method: str, **params) -> dict:
        self.sent += 1
        self.ws.send(json.dumps({"id": self.sent, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.sent:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def press(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "")

    def screen(self) -> str:
        return self.evaluate(SCREEN) or ""


@contextlib.contextmanager
def headless(binary: str, profile: str, port: int):
    """A headless Chromium on `binary`; yields its first page, with CATCH_TERMINALS installed."""
    process = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                                "--window-size=1600,1000", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def page_url():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:
                    targets = json.load(answer)
            except OSError:
                return None
            return next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)

        page = Page(wait_for(page_url, 30, "Chromium page"))
        page.call("Page.enable")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINALS)
        yield page
        page.ws.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
