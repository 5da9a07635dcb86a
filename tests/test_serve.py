"""`stepper serve`: the app in a web page (textual-serve), driven by a real headless Chromium."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cdp import browser, free_port, headless, wait_for

REPO = Path(__file__).resolve().parents[1]


def _serve(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "stepper", "serve", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_app_steps_in_a_browser(tmp_path):
    binary = browser()
    if binary is None:
        pytest.skip("no Chromium found (chromium, chromium-browser or google-chrome): .ci/run installs "
                    "Debian's chromium where it runs as root")
    pytest.importorskip("websocket", reason="the DevTools client needs websocket-client (the dev extra)")
    port = free_port()
    server = _serve("scenarios/mini.yaml", "--port", str(port))
    try:
        said = server.stdout.readline()
        assert said == f"stepper serve: open http://localhost:{port} in a browser (Ctrl+C stops the server)\n"
        with headless(binary, str(tmp_path / "profile"), free_port()) as page:
            page.call("Page.navigate", url=f"http://localhost:{port}/")
            first = wait_for(lambda: _step_shown(page.screen()), 60, "the first step on the page")
            assert first == (1, "Token embedding")
            page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
            page.press("n")
            second = wait_for(lambda: _step_shown(page.screen(), after=1), 30, "the second step after n")
            assert second == (2, "Positional encoding")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert code == 0, server.stderr.read()


def _step_shown(screen: str, after: int = 0) -> tuple[int, str] | None:
    """(the step's number, its title) as the step pane's header shows them (`Step 2/44  Forward`, then
    the title on the next line); None while no step past `after` is on the screen."""
    lines = screen.splitlines()
    for n, line in enumerate(lines[:-1]):
        if (found := re.search(r"▕ Step (\d+)/\d+ ", line)) and int(found[1]) > after:
            return int(found[1]), lines[n + 1].split("▕", 1)[1].split("▏", 1)[0].strip()
    return None


def test_another_host_is_warned_about_and_an_invalid_scenario_is_refused(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nmodel: [\n", encoding="utf-8")
    bad = _serve(str(tmp_path / "bad.yaml"), "--port", str(free_port()))
    out, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and err.startswith(f"{tmp_path / 'bad.yaml'}:") and ": error: " in err
    port = free_port()
    shared = _serve("mini", "--host", "127.0.0.2", "--port", str(port), cwd=tmp_path)
    try:
        assert shared.stdout.readline().startswith(f"stepper serve: open http://127.0.0.2:{port}")
        time.sleep(0.2)
    finally:
        shared.send_signal(signal.SIGINT)
        shared.wait(timeout=20)
    assert "anyone who can reach this machine" in shared.stderr.read()


def test_a_port_in_use_is_one_error_line():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _serve("mini", "--host", "127.0.0.1", "--port", str(port))
        out, err = busy.communicate(timeout=60)
    assert busy.returncode == 2 and err.strip().splitlines() == [
        f"stepper: error: cannot serve on 127.0.0.1:{port}: address already in use — pick another --port (or --host)"]
