"""Go to a step by name from the command palette (`g`, or ctrl+p alongside the system commands)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class StepCommands(Provider):
    def _steps(self):
        from stepper.present.captions import phase_word, where  # numpy-backed: loaded when the palette opens

        screen = self.screen
        trace = getattr(screen, "trace", None)
        if trace is None or not hasattr(screen, "go_to"):
            return
        for i, step in enumerate(trace.steps):
            place = " · ".join(p for p in (phase_word(step), where(step)) if p)
            # the id is searchable too, so `bwd scores` or `L0.ln1` find their step
            yield i, f"{i + 1}. {step.title} · {place}", step.id, partial(screen.go_to, i)

    async def discover(self) -> Hits:
        for _, text, step_id, go in self._steps():
            yield DiscoveryHit(text, go, help=step_id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for _, text, step_id, go in self._steps():
            score = max(matcher.match(text), matcher.match(step_id))
            if score > 0:
                yield Hit(score, matcher.highlight(text), go, text=text, help=step_id)
