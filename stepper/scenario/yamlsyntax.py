"""Text → YAML nodes, safely: the loader's rules, a first pass that bounds the document, and
PyYAML's exceptions turned into one located line a learner can act on.

PyYAML says what its parser expected ("expected <block end>, but found '<block mapping start>'");
a learner needs to hear what they wrote wrong and how to fix it, so the common cases are
translated, and the rest keep PyYAML's words with a generic hint.
"""

from __future__ import annotations

import re

import yaml

from stepper.scenario.errors import ScenarioError

# aliases let a few lines stand for millions of values (the "billion laughs"): refuse past this
MAX_NODES = 200_000
# a weight matrix sits 5 levels down; anything far deeper is a mistake or an attack, and the
# composer recurses once per level, so bound it before Python's stack does
MAX_DEPTH = 24


class Loader(yaml.SafeLoader):
    """SafeLoader, but `2024-01-01` stays text, and `1e-5` is a number as it is in YAML 1.2."""


Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rules if tag.rsplit(":", 1)[-1] not in ("timestamp", "value")]
    for ch, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))



class FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The same rules on libyaml's C parser: a scenario with long lessons reads several times faster."""


FastLoader.yaml_implicit_resolvers = Loader.yaml_implicit_resolvers

# (words in PyYAML's problem or context, what to tell the learner) — first match wins
_HINTS = [
    ("'\\t'", "a tab character — YAML allows no tabs in indentation or between a key and its value; use "
             "spaces (or quote text that contains a tab)"),
    ("undefined alias", "{problem} — an alias `*name` needs an anchor `&name` earlier in the file"),
    ("duplicate anchor", "the anchor is defined twice ({context}) — rename one of them"),
    ("mapping values are not allowed", "unexpected `:` — check this line's indentation, that the key above "
                                       "has a space after its colon (`key: value`), or quote a value that "
                                       "contains `: `"),
    ("could not find expected ':'", "a key without a `:` — write `key: value`, or check the line above"),
    ("expected <block end>", "this line's indentation does not match the lines above it — line up keys "
                             "under their parent"),
    ("while parsing a block collection", "a list item `- ` where a key was expected — check the indentation"),
    ("flow sequence", "a `[...]` list is not closed, or lacks a comma{still} — check the brackets"),
    ("flow mapping", "a `{...}` mapping is not closed, or lacks a comma{still} — check the braces"),
    ("quoted scalar", "a quote is never closed{still} — close the string with the same quote it opened with"),
    ("while scanning an alias", "a `*` must be followed by an anchor name — quote the value if `*` is text"),
    ("while scanning an anchor", "a `&` must be followed by an anchor name — quote the value if `&` is text"),
    ("while scanning a tag", "a `!` starts a tag, which scenarios do not use — quote the value"),
    ("while scanning a block scalar", "a `|` or `>` block is malformed — put its text on the lines below, "
                                      "indented"),
    ("found character '@'", "`@` cannot start a value — put the value in quotes"),
    ("found character '`'", "a backtick cannot start a value — put the value in quotes"),
    ("found character '%'", "`%` cannot start a line — put the value in quotes"),
]


def _position(exc: yaml.YAMLError, text: str) -> tuple[int, int]:
    if isinstance(exc, yaml.reader.ReaderError):  # carries an offset, not a mark
        before = text[: exc.position]
        return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


def _stray_dedent(text: str, line: int) -> tuple[int, str] | None:
    """A key moved out of its block (`model:` … `positional: x` at column 1 … `  pooling: y`) is
    valid YAML: the error comes a line later, where the indented block goes on. Point at the key."""
    lines = text.splitlines()

    def indent(s: str) -> int:
        return len(s) - len(s.lstrip(" "))

    def meaningful(n: int) -> bool:
        return 0 <= n < len(lines) and lines[n].strip() != "" and not lines[n].lstrip().startswith("#")

    here = line - 1
    before = [n for n in range(here - 1, -1, -1) if meaningful(n)][:2]
    if not meaningful(here) or len(before) < 2:
        return None
    stray, above = before
    if not indent(lines[stray]) < indent(lines[here]) <= indent(lines[above]):
        return None
    if lines[stray].split("#", 1)[0].rstrip().endswith(":"):  # a key that opens the block below: not stray
        return None
    parent = next((lines[n].strip().split(":", 1)[0] for n in range(stray - 1, -1, -1)
                   if meaningful(n) and indent(lines[n]) < indent(lines[above])), None)
    inside = f" inside `{parent}:`" if parent else ""
    return stray + 1, (f"YAML syntax: this line is less indented than the lines above and below it, so "
                       f"it ends the block early — if it belongs{inside}, indent it by "
                       f"{indent(lines[above])} spaces like its neighbours")


_OPENERS = ("while scanning a quoted scalar", "while parsing a flow sequence", "while parsing a flow mapping")


def _opened_at(exc: yaml.YAMLError) -> tuple[int, int, str] | None:
    """(line, column, words) of the quote or bracket that a syntax error ran on from, when it ran past
    its own line: the parser notices only at the end of the file, or lines later, but the fix is here."""
    opened, found = getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
    if getattr(exc, "context", None) not in _OPENERS or opened is None or found is None:
        return None
    if found.line == opened.line:  # `{a: 1 b: 2}`: the missing comma is where the parser stopped
        return None
    until = "the end of the file" if found.index >= len(found.buffer or "") - 1 else f"line {found.line + 1}"
    return opened.line + 1, opened.column + 1, f" (it is still open at {until})"


def syntax_error(exc: yaml.YAMLError, text: str, file: str) -> ScenarioError:
    line, col = _position(exc, text)
    opened = _opened_at(exc)
    still = ""
    if opened is not None:
        line, col, still = opened
    elif not isinstance(exc, yaml.reader.ReaderError) and (stray := _stray_dedent(text, line)) is not None:
        return ScenarioError(file, stray[0], 1, stray[1])
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return ScenarioError(file, line, col, f"the character U+{ord(char):04X} is not allowed in YAML — "
                                              "delete it (was this file saved as plain text?)")
    problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
    context = str(getattr(exc, "context", None) or "")
    said = f"{context} {problem}"
    for words, message in _HINTS:
        if words in said:
            # replace(), not format(): the hints quote `{...}` and `[...]` literally
            text = message.replace("{problem}", problem).replace("{context}", context).replace("{still}", still)
            return ScenarioError(file, line, col, "YAML syntax: " + text)
    where = f"{context}: " if context else ""
    return ScenarioError(file, line, col, f"YAML syntax: {where}{problem} — fix the YAML at this spot")


def _check_events(text: str, file: str, loader=Loader) -> None:
    """A streaming first pass: refuse a second document or deep nesting before composing."""
    depth = documents = values = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_NODES:  # stop early: parsing the rest of a huge file takes long
                line, col = event.start_mark.line + 1, event.start_mark.column + 1
                raise ScenarioError(file, line, col, f"the file holds more than {MAX_NODES:,} values — a "
                                    "scenario to step through by hand is far smaller; is it the right file?")
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                line, col = event.start_mark.line + 1, event.start_mark.column + 1
                raise ScenarioError(file, line, col, "a second YAML document starts here — a scenario is "
                                    "one document; delete this `---` and what follows, or move it to its "
                                    "own file")
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line, col = event.start_mark.line + 1, event.start_mark.column + 1
                raise ScenarioError(file, line, col, f"values nested more than {MAX_DEPTH} levels deep — "
                                    "a scenario never needs that; check the brackets")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def compose(text: str, file: str) -> yaml.Node | None:
    """Text → the root node (None when there is no document); ScenarioError on any YAML problem."""
    try:
        _check_events(text, file, FastLoader)
        return yaml.compose(text, Loader=FastLoader)
    except yaml.YAMLError:
        pass  # read it again below: the pure-Python parser's errors are the ones the hints speak to
    try:
        _check_events(text, file)
        return yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise syntax_error(exc, text, file) from None
    except RecursionError:  # defensive: _check_events bounds nesting, so this should not happen
        raise ScenarioError(file, 1, 1, "values nested too deep to read — flatten them") from None
