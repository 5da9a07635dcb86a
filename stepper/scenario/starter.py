"""`stepper new NAME`: a commented starter scenario that passes `stepper check` as written.

The templates are YAML files beside this module (templates/<kind>.yaml), so they can be read,
and are tested, exactly as a learner will see them; only the name is filled in.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from stepper.scenario.errors import ScenarioError

KINDS = ("encoder", "decoder", "seq2seq", "mlp")
_NAME = re.compile(r"[a-z0-9_-]{1,64}")
_PLACEHOLDER = "__NAME__"


def template(kind: str) -> str:
    """The starter text for `kind`, with `__NAME__` where the name goes."""
    return resources.files("stepper.scenario").joinpath("templates", f"{kind}.yaml").read_text("utf-8")


def starter_text(name: str, kind: str, target: Path) -> str:
    """The starter scenario for `kind`, named `name`; refuse (ScenarioError, exit 2) a bad name or kind.

    The error names the file that would have been written (`target`), so it reads like any other
    scenario error: `My Model.yaml:1:1: error: the name … may use only …`.
    """
    if not _NAME.fullmatch(name):
        slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:64] or "my-model"
        raise ScenarioError(target, 1, 1, f"the name `{name}` may use only a-z, 0-9, `_` and `-` (it becomes "
                                          f"the scenario's `name:`) — try `stepper new {slug}`")
    if kind not in KINDS:
        raise ScenarioError(target, 1, 1, f"unknown kind `{kind}` — use one of: {', '.join(KINDS)}")
    return template(kind).replace(_PLACEHOLDER, name)
