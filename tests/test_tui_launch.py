"""The launcher's head start: the first frame painted from the child's text before numpy loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tui_helpers import screen_cells as painted_cells
from tui_helpers import screen_lines, wait_for

from stepper.tui.screens.main import MainScreen
from stepper.tui.startup import collector, launch
from stepper.tui.startup.app import StartingApp
from stepper.tui.startup.preview import PreviewScreen

MINI = str(Path(__file__).resolve().parent.parent / "scenarios" / "mini.yaml")


def screen_cells(app) -> list[list[tuple]]:
    """Each row's cells as they look: a blank shows only its background; any other cell its style too."""
    rows = []
    for cells in painted_cells(app):
        row = []
        for ch, style in cells:
            plain_blank = ch == " " and style is not None and not (style.reverse or style.underline)
            row.append((ch, str(style.bgcolor) if plain_blank else str(style)))
        rows.append(row)
    return rows


def from_child(quiz: bool = False):
    answer = launch.start_reader(lambda: (MINI, False, None, quiz))
    return answer.frame(), answer.result


def test_the_first_frame_and_the_app_module_need_no_numpy():
    code = ("import sys, stepper.tui.startup.app, stepper.tui.startup.preview, stepper.tui.startup.frame_cache; "
            "sys.exit(1 if 'numpy' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_app_never_imports_the_start_up_machinery():
    """startup/ builds on the app; the app, its screens and widgets know nothing of it."""
    code = ("import sys, stepper.tui.app, stepper.tui.screens.main, stepper.tui.widgets.pipeline; "
            "sys.exit(1 if any(m.startswith('stepper.tui.startup') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_quiz_mode_gets_no_preview():
    frame, result = from_child(quiz=True)
    assert frame is None and result()[0] == "ok"


@pytest.mark.parametrize(("size", "pipeline_width"), [((120, 40), 32), ((80, 24), 25), ((200, 60), 38)])
async def test_the_preview_matches_the_main_screen_then_hands_over(monkeypatch, size, pipeline_width):
    frame, result = from_child()
    assert frame is not None
    held = StartingApp(verify=False, frame=frame, load=result)
    monkeypatch.setattr(held, "_unpack", lambda: None)  # keep the preview on screen to look at it
    async with held.run_test(size=size) as pilot:
        # under load the footer may paint a refresh or two after the rest
        await wait_for(pilot, lambda: screen_lines(held)[-1].strip(), what="the preview's footer")
        preview = screen_lines(held)
        preview_cells = screen_cells(held)
        assert isinstance(held.screen, PreviewScreen)
    monkeypatch.undo()
    app = StartingApp(verify=False, frame=frame, load=result)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()

        def swapped():  # a loaded machine may need a few more refreshes before the swap shows
            lines = screen_lines(app)
            return isinstance(app.screen, MainScreen) and "embed.tok [5×4]" in "\n".join(lines) and lines[-1].strip()

        await wait_for(pilot, swapped, what="the main screen with its matrices and footer")
        assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 2  # replaced, not stacked
        main = screen_lines(app)
        assert "embed.tok [5×4]" in "\n".join(main)  # the matrices arrived
        main_cells = screen_cells(app)
    # the title bar, the pipeline, the header and the footer are the same, colours included:
    # only the matrices appear
    assert preview_cells[0] == main_cells[0] and preview_cells[-1] == main_cells[-1]
    assert [row[:pipeline_width] for row in preview_cells] == [row[:pipeline_width] for row in main_cells]
    for line in ("Step 1/44  Forward", "Token embedding", "E = embed.tok[ids]"):
        assert any(line in p for p in preview)


async def test_the_collector_is_off_for_start_up_and_back_on_once_the_main_screen_is_up():
    import gc

    frame, result = from_child()
    launch.hold_collector()
    try:
        assert not gc.isenabled()
        app = StartingApp(verify=False, frame=frame, load=result)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await wait_for(pilot, lambda: gc.isenabled() and "Step 1/" in "\n".join(screen_lines(app)),
                           what="the collector back on and the main screen painted")
            assert isinstance(app.screen, MainScreen) and gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()  # the app froze this test process's objects; hand them back to the collector


def test_a_scenario_error_at_start_leaves_the_collector_on(tmp_path, capsys):
    import gc

    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: encoder\nmodle: {}\n")
    try:
        assert launch.launch(bad) == 2
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "bad.yaml:" in capsys.readouterr().err


def test_a_child_that_dies_after_the_first_frame_is_reported_not_awaited_forever():
    import os
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.write(write_end, pickle.dumps({"title": "x"}))
        os._exit(1)
    os.close(write_end)
    answer = launch.ChildAnswer(pid, read_end)
    assert answer.frame() == {"title": "x"}
    assert answer.result() == launch.ChildAnswer.LOST


async def test_a_lost_trace_after_the_first_frame_opens_the_error_dialog():
    from stepper.tui.screens.error import ErrorScreen

    answer = launch.start_reader(lambda: (MINI, False, None, False))
    frame = answer.frame()
    answer.close()  # its trace is never read: stopped and reaped, as `launch` does when the app quits early
    app = StartingApp(verify=False, frame=frame, load=lambda: launch.ChildAnswer.LOST)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "stopped without an answer" in "\n".join(screen_lines(app))


def test_closing_a_reader_stops_and_reaps_the_child_and_closing_twice_is_harmless():
    import os

    answer = launch.start_reader(lambda: (MINI, False, None, False))
    answer.close()
    assert answer.source.closed
    with pytest.raises(ChildProcessError):
        os.waitpid(answer.pid, os.WNOHANG)  # already reaped: no zombie left
    answer.close()
    done = launch.start_reader(lambda: (MINI, False, None, False))
    done.frame()
    assert done.result()[0] == "ok"
    done.close()  # after the result was read: nothing left to do


def test_garbage_made_during_start_up_is_collected_not_frozen():
    import gc
    import weakref

    class Node:
        pass

    launch.hold_collector()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector can free it
        alive = weakref.ref(a)
        del a, b
        collector.release_collector()
        assert alive() is None and gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


async def test_the_loading_screen_turns_the_collector_back_on_for_its_wait():
    import gc

    from stepper.scenario import load_scenario

    launch.hold_collector()
    try:
        app = StartingApp(load_scenario(MINI), None, verify=False)  # no trace yet: the loading path
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert gc.isenabled()
            await app.workers.wait_for_complete()
    finally:
        gc.enable()
        gc.unfreeze()


def test_no_child_process_means_everything_runs_here(monkeypatch, tmp_path, capsys):
    import os

    def no_fork():
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", no_fork)
    assert launch.start_reader(lambda: (MINI, False, None, False)) is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: encoder\nmodle: {}\n")
    assert launch.launch(bad) == 2
    assert "bad.yaml:" in capsys.readouterr().err


def test_run_help_in_process_stops_the_reader_and_leaves_the_collector_on(capsys):
    import gc

    from stepper import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--help"])
    assert stop.value.code == 0 and gc.isenabled()
    assert capsys.readouterr().out.count("usage:") == 1


def slow_preview():
    """(app on its first frame, event): the trace "arrives" only once the event is set."""
    import threading

    frame, result = from_child()
    ready = threading.Event()

    def slow_result():
        ready.wait(10)
        return result()

    return StartingApp(verify=False, frame=frame, load=slow_result), ready


async def main_screen_at(app, pilot, ready, index: int) -> None:
    """Let the trace arrive and wait until the main screen shows step `index`."""
    ready.set()
    await app.workers.wait_for_complete()
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.index == index
                   and f"Step {index + 1}/" in "\n".join(screen_lines(app)), what=f"the main screen at step {index}")


async def test_keys_pressed_on_the_first_frame_are_kept_for_the_main_screen():
    app, ready = slow_preview()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PreviewScreen)
        await pilot.press("n", "n", "space")
        await main_screen_at(app, pilot, ready, 3)
        assert isinstance(app.screen, MainScreen) and app.screen.index == 3
        assert "Step 4/44" in "\n".join(screen_lines(app))


async def test_held_keys_survive_the_help_screen_and_mode_keys_are_not_replayed():
    from stepper.tui.screens.help import HelpScreen

    app, ready = slow_preview()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("n", "z", "n", "question_mark")  # z (quiz) is not kept: its effect depends on the screen
        assert isinstance(app.screen, HelpScreen)
        await main_screen_at(app, pilot, ready, 2)
        assert isinstance(app.screen, MainScreen) and app.screen.index == 2 and not app.screen.quiz.on


async def test_the_first_frames_footer_shows_the_learners_keys(tmp_path, monkeypatch):
    (tmp_path / "stepper").mkdir()
    (tmp_path / "stepper" / "keymap.yaml").write_text("quit: x\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    frame, result = from_child()
    held = StartingApp(verify=False, frame=frame, load=result)
    monkeypatch.setattr(held, "_unpack", lambda: None)
    async with held.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer = screen_lines(held)[-1]
        assert "x quit" in footer and "q quit" not in footer


async def test_a_slow_reader_gets_the_loading_screen_not_a_blank_terminal():
    import threading

    from stepper.scenario import load_scenario
    from stepper.tui.screens.error import ErrorScreen
    from stepper.tui.screens.loading import LoadingScreen

    done = threading.Event()

    def slow_result():  # a large scenario: read, but too costly for the reader to build
        done.wait(5)
        return ("ok", load_scenario(MINI), None)

    app = StartingApp(verify=False, load=slow_result, name="mini")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoadingScreen) and "Computing every step of mini" in "\n".join(screen_lines(app))
        done.set()
        # read, then built here, then the main screen
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and "Step 1/" in "\n".join(screen_lines(app)),
                       what="the main screen, painted")
        assert isinstance(app.screen, MainScreen) and app.screen.trace.steps[0].id == "fwd.embed"

    error = StartingApp(verify=False, load=lambda: ("error", "big.yaml:3:5: error: no"), name="big")
    async with error.run_test(size=(100, 30)) as pilot:
        await error.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(error.screen, ErrorScreen) and "big.yaml:3:5: error: no" in "\n".join(screen_lines(error))
        await pilot.press("enter")
    assert error.return_code == 2 and error.failure == "big.yaml:3:5: error: no"


def test_a_failure_shown_in_the_dialog_is_left_on_stderr_too(capsys):
    """The dialog goes with the app; the located line stays in the terminal, as `check` prints it."""
    from stepper.tui.app import run

    class Failed:
        failure, return_code = "big.yaml:3:5: error: no", 2

        def run(self):
            pass

    assert run(Failed()) == 2
    assert capsys.readouterr().err == "big.yaml:3:5: error: no\n"


def test_the_launcher_waits_only_so_long_for_a_first_frame():
    import os
    import time

    read_end, write_end = os.pipe()
    answer = launch.ChildAnswer(os.getpid(), read_end)  # nobody writes: a reader still at work
    start = time.perf_counter()
    assert not answer.ready(0.05) and time.perf_counter() - start < 1
    os.write(write_end, b"x")
    assert answer.ready(0.05)
    os.close(write_end)
    answer.source.close()


async def test_quitting_while_a_large_scenario_loads_does_not_wait_for_it():
    import os
    import time

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a reader still at work on a large scenario: nothing written for a long while
        os.close(read_end)
        time.sleep(60)
        os._exit(0)
    os.close(write_end)
    answer = launch.ChildAnswer(pid, read_end)
    app = StartingApp(verify=False, load=answer.result_after_frame, name="big",
                      stop=answer.stop)
    start = time.perf_counter()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("q")
        assert time.perf_counter() - start < 10 and app.return_code == 0
    finally:
        answer.close()  # reaped either way


def test_a_scenario_opened_again_sends_last_times_first_frame_at_once(tmp_path, monkeypatch):
    from stepper.tui.startup import frame_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first, result = from_child()
    assert result()[0] == "ok" and os.listdir(frame_cache.cache_dir())  # kept for next time
    again, result = from_child()
    assert again == first and result()[0] == "ok"
    # what is sent is the kept entry itself, not a frame built again that happens to be equal
    frame_cache.write(frame_cache.entry(MINI, (False, None)), {"title": "kept"})
    kept, result = from_child()
    assert kept == {"title": "kept"} and result()[0] == "ok"


def test_a_kept_frame_is_used_only_for_the_same_file_options_and_code(tmp_path, monkeypatch):
    from stepper.tui.startup import frame_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n")
    at = frame_cache.entry(scenario, (False, None))
    frame_cache.write(at, {"title": "kept"})
    assert frame_cache.read(frame_cache.entry(scenario, (False, None))) == {"title": "kept"}
    assert frame_cache.read(frame_cache.entry(scenario, (True, None))) is None  # other options
    monkeypatch.setattr(frame_cache, "code_fingerprint", lambda: "another version")
    assert frame_cache.read(frame_cache.entry(scenario, (False, None))) is None  # other code
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scenario.write_text("name: s2\n")
    assert frame_cache.read(frame_cache.entry(scenario, (False, None))) is None  # the file was edited
    assert frame_cache.entry(tmp_path / "missing.yaml", (False, None)) is None
    at = frame_cache.entry(scenario, (False, None))
    with open(at[0], "wb") as broken:
        broken.write(b"not a pickle")
    assert frame_cache.read(at) is None  # a damaged entry is a miss, not an error


def test_the_cache_never_reads_what_the_loader_must_read_itself_or_what_never_ends(tmp_path, monkeypatch):
    from stepper.tui.startup import frame_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    read_end, write_end = os.pipe()
    try:  # a pipe (`stepper run <(cat mini.yaml)`) read here would be empty for the loader
        assert frame_cache.entry(f"/dev/fd/{read_end}", (False, None)) is None
    finally:
        os.close(read_end)
        os.close(write_end)
    assert frame_cache.entry("/dev/zero", (False, None)) is None
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (frame_cache.MAX_BYTES + 1))
    assert frame_cache.entry(big, (False, None)) is None


def test_a_cache_lookup_that_fails_is_no_head_start_but_no_failure_either(tmp_path, monkeypatch):
    from stepper.tui.startup import frame_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def broken():
        raise FileNotFoundError("a module vanished during an upgrade")

    monkeypatch.setattr(frame_cache, "code_fingerprint", broken)
    frame, result = from_child()
    assert frame is not None and result()[0] == "ok"


def test_a_reader_with_no_frame_in_time_opens_the_loading_screen(monkeypatch):
    """The launcher's wiring: no first frame within FIRST_FRAME_WAIT → the app on its loading screen,
    reading the child's answer after the frame, and the child closed however the app ends."""
    import stepper.tui.startup.app as app_module

    calls = []

    class Slow:
        def ready(self, wait):
            calls.append(("ready", wait))
            return False

        def result_after_frame(self):
            return ("ok", None, None)

        def stop(self):
            pass

        def close(self):
            calls.append(("close",))

    answer = Slow()

    def loading(name, load, *, quiz=False, stop=None):
        calls.append(("loading", name, load == answer.result_after_frame, stop == answer.stop, quiz))
        return 7

    monkeypatch.setattr(app_module, "run_loading", loading)
    assert launch.launch(MINI, reader=answer) == 7
    assert calls == [("ready", launch.FIRST_FRAME_WAIT), ("loading", "mini", True, True, False), ("close",)]


def test_a_scenario_with_a_warning_comes_back_whole_through_the_fork(tmp_path):
    """A warning rides on the trace; the parent must be able to unpickle it (it once could not)."""
    warned = tmp_path / "warned.yaml"
    warned.write_text(Path(MINI).read_text().replace("\nlessons:\n", "\nlessons:\n  fwd.no_such_step: never shown\n"))
    answer = launch.start_reader(lambda: (str(warned), False, None, False))
    answer.frame()
    result = answer.result()
    assert result[0] == "ok", result
    (warning,) = result[2].warnings
    assert "fwd.no_such_step" in str(warning) and str(warning).startswith(f"{warned}:")


def test_an_error_and_a_warning_survive_pickling_as_themselves():
    import pickle

    from stepper.scenario.errors import ScenarioError, ScenarioWarning

    for cls in (ScenarioError, ScenarioWarning):
        exc = pickle.loads(pickle.dumps(cls("f.yaml", 3, 4, "bad thing")))
        assert type(exc) is cls and (exc.file, exc.line, exc.col, exc.message) == ("f.yaml", 3, 4, "bad thing")


HOSTILE = """name: hostile
title: "T\\e]0;PWNED\\a\\x1b[2J\\x9b31m end"
description: "D\\e]52;c;aGk=\\a"
model: {kind: encoder, d_model: 4, n_heads: 1, n_layers: 1, d_ff: 8}
input:
  vocab: ["<pad>", "I\\e[31m", "am\\a", "\\u202eyes"]
  tokens: ["I\\e[31m", "am\\a", "\\u202eyes"]
task: {kind: classify, classes: ["neg\\e[5m", "pos\\x07"], label: "pos\\x07"}
lessons:
  fwd.embed: "L\\e]0;lesson\\a"
  "fwd.x\\e[2J": never shown
quiz:
  - {step: fwd.embed, ask: "Q\\e[2J?", answer: 1}
"""


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_in(k)
            yield from _strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings_in(v)


def _obeyable(text: str) -> list[str]:
    return sorted({repr(c) for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0
                   or c in "\u202e\u2066"})


async def test_a_hostile_scenarios_strings_reach_the_screen_drawn_not_obeyed(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    answer = launch.start_reader(lambda: (str(path), False, None, False))  # the real, forked reader
    frame, result = answer.frame(), answer.result
    assert frame is not None and _obeyable("".join(_strings_in(frame))) == []
    app = StartingApp(verify=False, frame=frame, load=result)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and "Step 1/" in "\n".join(screen_lines(app)),
                       what="the main screen")
        text = "\n".join(screen_lines(app))
        assert "T␛]0;PWNED␇␛[2J\\x9b31m end" in text and "I␛[31m" in text
        assert _obeyable(text) == [] and _obeyable(app.title + app.sub_title) == []
        await pilot.press("n")  # the next step: its lesson, labels and class names too
        await pilot.pause()
        assert _obeyable("\n".join(screen_lines(app))) == []


def test_a_result_read_in_a_worker_and_a_close_from_the_app_reap_the_child_once():
    """The app quitting (close) while its worker waits on the child's answer (result): whichever comes
    first reaps the child, and the other neither waits for it again nor signals a pid that may be reused."""
    import threading
    import time

    from stepper.tui.startup.reader import ChildAnswer

    for _ in range(20):  # the order of the two varies from run to run
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # a child that never answers until it is killed
            os.close(read_end)
            time.sleep(30)
            os._exit(0)
        os.close(write_end)
        answer = ChildAnswer(pid, read_end)
        errors, got = [], []

        def worker(answer=answer, errors=errors, got=got):
            try:
                got.append(answer.result())
            except BaseException as exc:  # noqa: BLE001 - any error in the thread is the failure
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        answer.close()
        thread.join(10)
        assert not thread.is_alive() and not errors
        assert got == [ChildAnswer.LOST] and answer.source.closed
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already, by exactly one of the two
