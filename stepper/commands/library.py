"""`stepper list` (the bundled scenarios: name, title, what each teaches) and `stepper docs TOPIC`
(a document that ships with stepper), so that an installed stepper needs no clone to be learned."""

from __future__ import annotations

import re
import sys

from stepper.bundled import DOCS, bundled_scenarios, document, shipped
from stepper.commands import EXIT_INVALID, EXIT_OK
from stepper.visible import visible

# scenarios/README.md's table: | `FILE.yaml` | what it teaches | the question it answers |
_ROW = re.compile(r"^\|\s*`(?P<file>[^`]+\.yaml)`\s*\|(?P<teaches>[^|]*)\|")
# a sentence ends at . ! ? before a space and a capital or a quote; "0.94" and "e.g. x" do not end one
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def what_each_teaches() -> dict[str, str]:
    """File name → the first sentence of its "what it teaches" cell in scenarios/README.md, the one
    list of the library (tests/test_scenario_library.py keeps every bundled file in it)."""
    folder = shipped("scenarios")
    readme = folder / "README.md" if folder is not None else None
    if readme is None or not readme.is_file():
        return {}
    rows = (_ROW.match(line) for line in readme.read_text(encoding="utf-8").splitlines())
    return {m["file"]: first_sentence(m["teaches"]) for m in rows if m}


def scenario_title(path) -> str:
    """The scenario's `title:` (its name where it has none); a file that is no mapping shows its name."""
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    title = data.get("title") if isinstance(data, dict) else None
    return str(title) if title else path.stem


def list_scenarios(out=None) -> int:
    """Each bundled scenario: its name (what `stepper run NAME` takes) and title, then what it teaches."""
    out = out or sys.stdout
    teaches = what_each_teaches()
    paths = bundled_scenarios()
    width = max((len(p.stem) for p in paths), default=0) + 2
    for path in paths:
        print(visible(f"{path.stem:<{width}}{scenario_title(path)}", keep=""), file=out)
        if path.name in teaches:
            print(visible(f"{'':<{width}}{teaches[path.name]}", keep=""), file=out)
    print(f"\n{len(paths)} scenarios. Open one by name: stepper run NAME · stepper check NAME · "
          "stepper export NAME --format md · stepper quiz NAME", file=out)
    return EXIT_OK


def print_document(topic: str, out=None) -> int:
    """The document for `topic` (bundled.DOCS) on stdout, as the markdown it is written in."""
    out = out or sys.stdout
    path = document(topic)
    if path is None or not path.is_file():
        print(f"stepper: error: the document `{topic}` did not ship with this stepper — it is "
              f"docs/{DOCS.get(topic, topic)} in stepper's source", file=sys.stderr)
        return EXIT_INVALID
    out.write(path.read_text(encoding="utf-8"))
    return EXIT_OK
