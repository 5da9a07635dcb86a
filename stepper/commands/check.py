"""`stepper check`: compute every step, verify each against PyTorch autograd, report, set the exit code."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from stepper.commands import EXIT_INVALID, EXIT_MISMATCH, EXIT_OK, print_warnings
from stepper.engine import loss_fn
from stepper.present.perplexity import with_perplexity
from stepper.present.training import training_summary, training_verdict
from stepper.present.verdicts import divergence_words, mark, ok_mark
from stepper.scenario import ScenarioError, load_scenario
from stepper.trace import Trace
from stepper.verify.verdicts import Verdicts
from stepper.visible import visible


def _scaled(verdicts: Verdicts) -> str:
    """How far the tolerance grew on steps whose numbers are large (see compare.compare_values)."""
    top = max((c.scale for c in verdicts.values()), default=1.0)
    return "" if top == 1.0 else f", times the size of the numbers where that is over 1: up to ×{top:.3g}"


@dataclass
class Tally:
    """What every file checked so far came to, for the one summary line that ends the run."""

    files: int = 0
    agreed: int = 0
    disagreed: int = 0
    idle: int = 0  # steps with nothing the reference computes too
    invalid: int = 0

    def line(self, code: int) -> str:
        def count(n: int, one: str, many: str) -> str:
            return f"{n} {one if n == 1 else many}"

        meaning = {EXIT_OK: "everything agrees", EXIT_MISMATCH: "a value disagrees",
                   EXIT_INVALID: "a scenario is invalid"}[code]
        parts = [count(self.files, "file", "files"),
                 f"{count(self.agreed, 'step agrees', 'steps agree')} with torch",
                 count(self.disagreed, "disagrees", "disagree")]
        if self.idle:
            parts.append(f"{count(self.idle, 'step', 'steps')} with nothing to compare")
        if self.invalid:
            parts.append(count(self.invalid, "file invalid", "files invalid"))
        return f"overall: {', '.join(parts)} — exit {code} ({meaning})"


def step_line(step, c) -> str:
    worst = f"  worst: {c.worst}" if not c.ok and c.worst else ""
    return f"{mark(c)} {step.id:<34} {step.title:<46} max err {c.max_abs_err:.1e}{worst}"


def check_one(path: str, *, fd: bool, tol: float, quiet: bool, force: bool, out=None,
              generation: dict | None = None, tally: Tally | None = None) -> int:
    out = out or sys.stdout
    tally = tally if tally is not None else Tally()
    tally.files += 1
    try:
        scenario = load_scenario(path, force=force, generation=generation)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        tally.invalid += 1
        return EXIT_INVALID
    from stepper.verify.entry import checked

    trace, verdicts = checked(scenario, tol)
    totals = verdicts.totals
    print_warnings(trace)
    bad = [s for s in trace.steps if not verdicts[s.id].ok]
    if not quiet:
        print(f"{path}: {visible(scenario.title or scenario.name, keep='')}", file=out)
        for step in trace.steps:
            print("  " + step_line(step, verdicts[step.id]), file=out)
    worst = max(c.max_abs_err for c in verdicts.values())
    verdict = "all verified" if not bad else f"{len(bad)} DISAGREE"
    # a step with nothing the reference computes too is not counted as verified
    checked = sum(1 for c in verdicts.values() if c.compared)
    idle = len(trace.steps) - checked
    tally.agreed += checked - len(bad)
    tally.disagreed += len(bad)
    tally.idle += idle
    print(f"{path}: {checked - len(bad)}/{checked} steps verified against torch.autograd "
          + (f"and {idle} with nothing to compare " if idle else "")
          + f"(max abs err {worst:.1e}, tolerance {tol:g}{_scaled(verdicts)}) — {verdict}; "
          + with_perplexity(trace.config, trace.loss, f"loss {trace.loss:.6g}"),
          file=out)
    if trace.training is not None:
        print(f"{path}: training: {training_summary(trace)}", file=out)
        print(f"{path}: {training_verdict(trace, verdicts.training)}", file=out)
    if trace.diverged is not None:
        print(f"{path}: training diverged: {divergence_words(trace.diverged)}", file=out)
    if trace.generated:
        # one line, whatever the tokens hold (a newline token of a character model, say)
        said = visible(_generation_line(trace), keep="")
        print(f"{path}: generated: {said}", file=out)
    print(f"{path}: {ok_mark(totals.ok)} loss and all {len(trace.grads)} parameter gradients vs torch.autograd: "
          f"max abs err {totals.max_abs_err:.1e}" + ("" if totals.ok else f" — worst: {totals.worst}"), file=out)
    code = EXIT_OK if not bad and totals.ok and all(c.ok for c in verdicts.training) else EXIT_MISMATCH
    if fd:
        code = max(code, finite_differences(scenario, trace, out))
    return code


def finite_differences(scenario, trace: Trace, out) -> int:
    from stepper.verify.fd import finite_difference_check

    report = finite_difference_check(scenario, loss_fn(scenario), trace.grads)
    print(report.summary(), file=out)
    return EXIT_OK if report.ok else EXIT_MISMATCH


def check_files(paths: list[str], *, fd: bool = False, tol: float = 1e-10, quiet: bool = False,
                force: bool = False, generation: dict | None = None) -> int:
    """The worst outcome wins: an invalid file (2) over a disagreement (1) over success (0).
    The last line sums up every file, so a long run need not be scrolled back through."""
    tally = Tally()
    code = max([check_one(p, fd=fd, tol=tol, quiet=quiet, force=force, generation=generation, tally=tally)
                for p in paths])
    if len(paths) > 1:  # one file's own last line is already its summary
        print(tally.line(code))
    return code


def _generation_line(trace: Trace) -> str:
    """A decoder's input ⟶ what it added; a seq2seq's source ⟶ the target it decoded from `<bos>`."""
    text = trace.steps[trace.index_of("gen.text")].bindings
    if "source" in text:
        return f"{text['source']} ⟶ {text['prompt']} {text['generated']}"
    return f"{' '.join(trace.tokens)} ⟶ {' '.join(trace.generated)}"
