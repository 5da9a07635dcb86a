"""The app as `stepper run` starts it: the first frame painted from the forked reader's text before
numpy loads, the trace unpickled after it in a worker, the stepping keys pressed meanwhile replayed
on the main screen, and the garbage collector held until that screen is up (collector.py)."""

from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen

from stepper.tui.app import StepperApp, TraceReady, run
from stepper.tui.startup.collector import release_collector, resume_collector


class StartingApp(StepperApp):
    def __init__(self, scenario=None, trace=None, *, verify: bool = True, quiz: bool = False,
                 frame: dict | None = None,
                 load: Callable[[], tuple] | None = None, name: str = "",
                 stop: Callable[[], None] | None = None) -> None:
        """`load()`: ('ok', scenario, trace-or-None) or an error, called off the UI thread; meanwhile
        `frame` (see first_frame.py) is painted, or with none the loading screen names `name`.
        `stop` ends that loading at once, for a quit that should not wait for it."""
        super().__init__(scenario, trace, verify=verify, quiz=quiz)
        self.first_frame, self.load_trace, self.loading_name, self.stop_loading = frame, load, name, stop

    def get_default_screen(self) -> Screen:
        if self.load_trace is None:
            return super().get_default_screen()
        if self.first_frame is None:  # the reader is still reading a large scenario
            from stepper.tui.screens.loading import LoadingScreen

            return LoadingScreen(self.loading_name)
        from stepper.tui.startup.preview import PreviewScreen

        # the first frame is the app's first screen itself: no empty screen to mount beneath it
        return PreviewScreen(self.first_frame)

    def start(self) -> None:
        if self.load_trace is None:
            if self.trace is None:
                resume_collector()  # the build takes a while, and the loading screen's animation makes garbage
            super().start()
            return
        if self.first_frame is None:
            resume_collector()  # a long wait, and the loading screen's animation makes garbage
        # numpy and the trace load only once the first frame is out, off the UI thread
        self.screen.call_after_refresh(self._unpack)

    def _unpack(self) -> None:
        load = self.load_trace

        def body() -> None:
            result = load()
            if result[0] != "ok":  # the reader sent the first frame, then failed
                self.post_message(TraceReady(None, None, result[1]))
            else:
                self.post_message(TraceReady(result[1], result[2]))

        self.run_worker(body, thread=True, group="trace load", exit_on_error=False)

    def open_trace(self, trace):
        # keys pressed on the first frame (which may be under the help screen by now)
        held = next((s.held for s in self.screen_stack if hasattr(s, "held")), [])
        self.load_trace = None
        screen = super().open_trace(trace)  # over the first frame, which it matches, or the loading screen
        self.call_after_refresh(release_collector)
        if held:
            self.call_after_refresh(self._replay, screen, held)
        return screen

    async def _replay(self, screen: Screen, actions: list[str]) -> None:
        for action in actions:
            await self.run_action(action, screen)

    def fail(self, message: str) -> None:
        if not self.quitting:
            release_collector()  # the main screen will not come: start-up ends here
        super().fail(message)

    def action_quit(self) -> None:
        self.quitting = True
        if self.load_trace is not None and self.stop_loading is not None:
            self.stop_loading()  # the load worker's read ends now, so the exit need not wait for it
        super().action_quit()


def run_loading(name: str, load: Callable[[], tuple], *, quiz: bool = False,
                stop: Callable[[], None] | None = None) -> int:
    """Open the stepper on its loading screen while `load()` reads a large scenario; a scenario
    error found meanwhile is shown in a dialog and printed on stderr after it, and the exit code is 2."""
    return run(StartingApp(quiz=quiz, load=load, name=name, stop=stop))


def run_preview(frame: dict, load: Callable[[], tuple], *, quiz: bool = False,
                stop: Callable[[], None] | None = None) -> int:
    """Open the stepper from the reader: `frame` is painted at once; `load()` gives
    ('ok', scenario, trace), and is called off the UI thread after it."""
    return run(StartingApp(quiz=quiz, frame=frame, load=load, stop=stop))


def run_started(scenario, trace, *, quiz: bool = False) -> int:
    """As `stepper.tui.app.run_app`, for a launch that holds the collector (no reader forked)."""
    from stepper.tui.app import run_app

    return run_app(scenario, quiz=quiz, trace=trace, app=StartingApp)
