"""What ships with stepper, found the same way installed or in a clone: the bundled scenarios (by
name: `stepper run mini`) and the documents `stepper docs` prints.

An installed wheel carries them as package data, `stepper/scenarios/` and `stepper/docs/`
(pyproject.toml, force-include); in a clone they are the repository's own `scenarios/` and `docs/`
beside the package. `importlib.resources` says where the package is; it is imported only when a
name has to be looked up, so a command given a real path pays nothing for this.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing before `run`'s fork

if TYPE_CHECKING:
    from pathlib import Path

# a bundled scenario's name: the file's stem, as `stepper new` allows names
NAME = re.compile(r"[a-z0-9_-]{1,64}")
# `stepper docs TOPIC` → the document's file name; pyproject.toml ships exactly these
DOCS = {"format": "scenario-format.md", "trace-keys": "trace-keys.md", "python": "python.md", "cost": "cost.md"}


def shipped(folder: str) -> Path | None:
    """The folder `folder` ("scenarios", "docs") that ships with stepper; None when there is none."""
    from importlib import resources
    from pathlib import Path

    package = resources.files("stepper")
    for place in (package.joinpath(folder), Path(str(package)).parent / folder):  # wheel, then clone
        if place.is_dir():
            return Path(str(place))
    return None


def scenario_path(given: str | os.PathLike) -> str | os.PathLike:
    """Where the scenario `given` is read from: `given` itself when anything is there (the loader
    refuses a folder or a device by name) or when it names a folder (`scenarios/mini.yaml`); else the
    bundled scenario of that name (`mini` or `mini.yaml`) if there is one; else `given`, for the loader
    to report as missing."""
    text = os.fspath(given)
    if os.path.lexists(text) or os.sep in text or (os.altsep and os.altsep in text):
        return given
    name = text.removesuffix(".yaml")
    folder = shipped("scenarios") if NAME.fullmatch(name) else None
    if folder is not None and (folder / f"{name}.yaml").is_file():
        return str(folder / f"{name}.yaml")
    return given


def bundled_scenarios() -> list[Path]:
    """Every bundled scenario file, by name."""
    folder = shipped("scenarios")
    return [] if folder is None else sorted(folder.glob("*.yaml"))


def document(topic: str) -> Path | None:
    """The document `stepper docs TOPIC` prints (see DOCS); None if it did not ship."""
    folder = shipped("docs")
    return None if folder is None or topic not in DOCS else folder / DOCS[topic]
