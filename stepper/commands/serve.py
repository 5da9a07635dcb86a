"""`stepper serve [FILE]`: the same app in a web page, served by textual-serve (Textualize's own
server: each browser tab gets its own `stepper run FILE`, drawn by xterm.js in the page).

On localhost unless `--host` says otherwise; any other host lets anyone who can reach this machine
use the app (and so run stepper here), which is said before the server starts.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys

from stepper.commands import EXIT_INVALID, EXIT_OK
from stepper.scenario import load_scenario

LOCAL = ("localhost", "127.0.0.1", "::1")


def app_command(path: str) -> str:
    """The command each browser tab runs: this Python's stepper, on the scenario's path."""
    parts = (sys.executable, "-m", "stepper", "run", os.path.abspath(path))
    return " ".join(shlex.quote(part) for part in parts)


def serve(path: str, *, host: str, port: int) -> int:
    load_scenario(path)  # an invalid scenario is FILE:LINE:COL: error: … here, once, not in every tab
    from textual_serve.server import Server

    class StepperServer(Server):
        async def on_startup(self, app) -> None:  # our words instead of the library's banner
            print(f"stepper serve: open {self.public_url} in a browser (Ctrl+C stops the server)", flush=True)

    if host not in LOCAL:
        print(f"stepper: warning: serving on {host}: anyone who can reach this machine on port {port} "
              "can open the app, and each page runs stepper here", file=sys.stderr, flush=True)
    # the page loads its scripts from this address: on every interface (0.0.0.0), the machine's name
    public = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
    public = f"[{public}]" if ":" in public else public  # an IPv6 address, as a URL writes it
    server = StepperServer(app_command(path), host=host, port=port, title="stepper",
                           public_url=f"http://{public}:{port}")
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the host is not this machine's
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)  # not the library's long wording
        print(f"stepper: error: cannot serve on {host}:{port}: {reason} — pick another "
              "--port (or --host)", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK
