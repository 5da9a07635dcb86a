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

from stepper.visible import visible


def keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "stepper" / "keymap.yaml"


# the largest keymap read: a few dozen lines are a keymap, megabytes are some other file
MAX_BYTES = 64 * 2**10
_MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}


def load_keymap(known: set[str], path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(id → keys, problems): a problem is said, never raised; the keys that are right still apply."""
    path = keymap_path() if path is None else path
    if not os.path.lexists(path):
        return {}, []
    import yaml

    from stepper.readfile import Refused, read_regular

    shown = visible(str(path), keep="")
    try:
        data = yaml.safe_load(read_regular(path, limit=MAX_BYTES).decode("utf-8")) or {}
    except Refused as exc:
        return {}, [f"{shown}: not read ({visible(str(exc), keep='')}); the usual keys stay"]
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{shown}: not read ({exc.__class__.__name__}); the usual keys stay"]
    if not isinstance(data, dict):
        return {}, [f"{shown}: expected `id: keys` lines; the usual keys stay"]
    keymap, problems = {}, []
    for key_id, keys in data.items():
        said = visible(str(key_id), keep="")
        if isinstance(keys, int) and not isinstance(keys, bool):  # `last: 5` reads as a number
            keys = str(keys)
        if str(key_id) not in known:
            problems.append(f"{shown}: no key has the id `{said}` (see ? for the ids)")
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f"{shown}: `{said}` needs keys such as \"j,right\"; the usual keys stay")
        elif wrong := [k for k in keys.split(",") if not is_key(k.strip())]:
            bad = wrong[0].strip()
            what = f"`{visible(bad, keep='')}` is no key" if bad else "an empty key between commas"
            problems.append(f"{shown}: `{said}` keeps the usual keys: in \"{visible(keys, keep='')}\", {what} — "
                            "write keys such as \"j,right,ctrl+n\"")
        else:
            keymap[str(key_id)] = ",".join(k.strip() for k in keys.split(","))
    return keymap, problems


def is_key(name: str) -> bool:
    """A key Textual can bind: a printable character, or a key's name (`right`, `f5`, `question_mark`),
    after any modifiers (`ctrl+`, `shift+`…). An unknown name would bind nothing, silently."""
    from textual.keys import KEY_ALIASES, Keys, key_to_character

    *modifiers, key = name.split("+")
    if not key or any(m not in _MODIFIERS for m in modifiers):
        return False
    if len(key) == 1:
        return key.isprintable() and not key.isspace()
    named = {k.value.rpartition("+")[2] for k in Keys if not k.value.startswith("<")}
    return key in named or key in KEY_ALIASES or key_to_character(key) is not None


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
