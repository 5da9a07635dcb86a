"""Go to a step by name from the command palette (`g`, or ctrl+p alongside the system commands).

A step is found by its title, its id, or a symbol it makes or uses: `dW_Q` finds the step that makes
the gradient, `W_Q` every step that reads or writes the weight."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# how a symbol match ranks: above any fuzzy match of a title, the steps that make it first
MAKES, USES = 1.0, 0.95


class StepCommands(Provider):
    def _steps(self):
        from stepper.present.captions import phase_word, where  # numpy-backed: loaded when the palette opens

        screen = self.screen
        trace = getattr(screen, "trace", None)
        if trace is None or not hasattr(screen, "go_to"):
            return
        for i, step in enumerate(trace.steps):
            place = " · ".join(p for p in (phase_word(step), where(step)) if p)
            yield step, f"{i + 1}. {step.title} · {place}", partial(screen.go_to, i)

    async def discover(self) -> Hits:
        for step, text, go in self._steps():
            yield DiscoveryHit(text, go, help=_help(step))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        wanted = query.strip().casefold()
        for step, text, go in self._steps():
            symbol = (MAKES if wanted in _symbols(step.outputs) else USES if wanted in _symbols(step.inputs)
                      else 0.0)
            # the id is searchable too, so `bwd scores` or `L0.ln1` find their step
            score = max(symbol, matcher.match(text), matcher.match(step.id))
            if score > 0:
                yield Hit(score, matcher.highlight(text), go, text=text, help=_help(step))


def _symbols(tensors: dict) -> set[str]:
    """The names a step gives its arrays, and their symbols where these differ, case-folded."""
    return {n.casefold() for n in tensors} | {t.symbol.casefold() for t in tensors.values() if t.symbol}


def _help(step) -> str:
    """The id, and what the step makes from what: the symbols a search can find it by."""
    return f"{step.id} · {', '.join(step.outputs)} from {', '.join(step.inputs) or 'nothing'}"
