"""`stepper new NAME`: write a commented starter scenario (scenario/starter.py) into a folder."""

from __future__ import annotations

from pathlib import Path

from stepper.export.files import ExistsError, write_atomic
from stepper.scenario.errors import ScenarioError
from stepper.scenario.starter import starter_text


def write_starter(name: str, kind: str, directory: Path, *, force: bool = False) -> Path:
    """Write `<directory>/<name>.yaml`; refuse (ScenarioError, exit 2) a bad name or an existing file.

    The error names the file that would have been written, so it reads like any other
    scenario error: `my-model.yaml:1:1: error: … already exists — …`.
    """
    target = Path(directory) / f"{name}.yaml"
    text = starter_text(name, kind, target)
    # as an export is written: whole or not at all, never over what is not a regular file
    try:
        write_atomic(target, text, force=force)
    except ExistsError:
        raise ScenarioError(target, 1, 1, f"{target.name} already exists — pick another name, or add --force "
                                          "to overwrite it") from None
    except OSError as exc:
        reason = str(exc).removeprefix(f"cannot write {target}: ")
        raise ScenarioError(target, 1, 1, f"cannot write the file: {reason} — check the folder "
                                          "exists and is writable") from None
    return target
