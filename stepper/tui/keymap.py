"""The learner's own keys: `keymap.yaml` in stepper's config folder maps binding ids to keys.

    # ~/.config/stepper/keymap.yaml (or $XDG_CONFIG_HOME/stepper/keymap.yaml)
    next: j,right
    previous: k,left

The ids are the ones the `?` screen lists. Only read when the file exists: yaml is not loaded
on the way to the first frame otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path


def keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "stepper" / "keymap.yaml"


def load_keymap(known: set[str], path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(id → keys, problems): a problem is said, never raised; the keys that are right still apply."""
    path = keymap_path() if path is None else path
    if not path.exists():
        return {}, []
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{path}: not read ({exc.__class__.__name__}); the usual keys stay"]
    if not isinstance(data, dict):
        return {}, [f"{path}: expected `id: keys` lines; the usual keys stay"]
    keymap, problems = {}, []
    for key_id, keys in data.items():
        if str(key_id) not in known:
            problems.append(f"{path}: no key has the id `{key_id}` (see ? for the ids)")
        elif isinstance(keys, int) and not isinstance(keys, bool):  # `last: 5` reads as a number
            keymap[str(key_id)] = str(keys)
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f"{path}: `{key_id}` needs keys such as \"j,right\"")
        else:
            keymap[str(key_id)] = keys.replace(" ", "")
    return keymap, problems


def remapped(bindings: list, keymap: dict[str, str]) -> list:
    """`bindings` with the learner's keys: for the pictures of keys (the first frame's footer, the
    `?` screen) that Textual's own keymap does not reach."""
    import dataclasses

    return [dataclasses.replace(b, key=keymap[b.id], key_display=None) if b.id in keymap else b
            for b in bindings]


def read_keymap() -> tuple[dict[str, str], list[str]]:
    from stepper.tui.bindings import every_binding_id

    return load_keymap(every_binding_id())


def apply_keymap(app, keymap: dict[str, str], problems: list[str]) -> None:
    """Hand the keymap (from `read_keymap()`) to Textual and say what could not be used."""
    if keymap:
        app.set_keymap(keymap)
    for problem in problems:
        app.notify(problem, title="keymap.yaml", severity="warning", timeout=8)
