"""Read YAML safely into plain Python values while remembering where every key and value stood.

PyYAML composes the document into nodes (no construction, so no tag can run code); we
turn the nodes into dicts, lists and scalars ourselves, recording each one's line, column
and source text by its path, so that a later check can point at the exact spot it objects to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor

from stepper.scenario.errors import ScenarioError
from stepper.scenario.yamlsyntax import MAX_DEPTH, MAX_NODES, compose

Path = tuple  # keys and list indexes from the document root

_SCALARS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}
_MERGE = "tag:yaml.org,2002:merge"
_SURROGATE = re.compile("[\ud800-\udfff]")  # what a `\uD800` escape leaves behind: half a pair, no character
_WHAT = {"int": "a whole number", "float": "a number", "bool": "a true/false value", "null": "an empty value"}


@dataclass
class Located:
    """A document's values plus where each path began (1-based line and column)."""

    value: object
    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)  # scalars as written, before YAML typed them

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its closest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            sub = tuple(path[:cut])
            if key and sub in self.key_marks:
                return self.key_marks[sub]
            if sub in self.marks:
                return self.marks[sub]
        return (1, 1)

    def error(self, path: Path, message: str, *, key: bool = False) -> ScenarioError:
        line, col = self.where(tuple(path), key=key)
        return ScenarioError(self.file, line, col, message)

    def has(self, path: Path) -> bool:
        return tuple(path) in self.marks


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.visited = 0
        self.active: set[int] = set()  # collections being built, to catch an alias to itself
        self.constructor = SafeConstructor()
        self.doc = Located(None, file)

    def fail(self, node: yaml.Node, message: str) -> ScenarioError:
        return ScenarioError(self.file, *_pos(node), message)

    def build(self, node: yaml.Node, path: Path) -> object:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self._too_many(node, path)
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"values nested more than {MAX_DEPTH} levels deep — a scenario never "
                                  "needs that; flatten this value")
        self.doc.marks[path] = _pos(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.active:
            # the alias is the anchored node itself, so its mark is the anchor's; the key that
            # holds the alias (when there is one) is where the learner has to look
            line, col = self.doc.key_marks.get(path, _pos(node))
            raise ScenarioError(self.file, line, col, "this alias refers to the list or mapping it sits "
                                                      "inside, so it never ends — point it at another anchor")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if node.tag != "tag:yaml.org,2002:seq":
                raise self._tag(node)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _too_many(self, node: yaml.Node, path: Path) -> ScenarioError:
        # point at the top-level key being expanded: the node at hand is just where the count ran out
        line, col = self.doc.key_marks.get(path[:1], _pos(node))
        return ScenarioError(self.file, line, col, f"this expands to more than {MAX_NODES:,} values "
                                                   "(aliases repeating aliases?) — write the values out plainly")

    def _text(self, node: yaml.ScalarNode) -> None:
        """Refuse text that cannot be written out: a lone surrogate would pass every check and then
        stop `check`, `export` and `quiz` with a traceback the moment they print or save it."""
        if (bad := _SURROGATE.search(node.value)) is not None:
            raise self.fail(node, f"U+{ord(bad.group()):04X} is half of a UTF-16 surrogate pair, not a character, "
                                  "and cannot be written out — write the character itself (or `\\U0001F600` "
                                  "for one beyond U+FFFF) instead of `\\uD8xx` escapes")

    def _tag(self, node: yaml.Node) -> ScenarioError:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        return self.fail(node, f"the tag `{tag}` is not allowed: nothing in a scenario may run code "
                               "or build objects — remove the tag and write a plain value")

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> object:
        if node.tag == _MERGE:  # `<<` anywhere but as a key is just the text it looks like
            self.doc.raw[path] = node.value
            return node.value
        if node.tag not in _SCALARS:
            raise self._tag(node)
        self._text(node)
        self.doc.raw[path] = node.value
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, ArithmeticError, TypeError, LookupError):
            # e.g. an int of 5000 digits (Python refuses to convert those), or `!!int abc`
            what = _WHAT.get(node.tag.rsplit(":", 1)[-1], "a value")
            text = node.value if len(node.value) <= 30 else f"{node.value[:20]}… ({len(node.value)} characters)"
            raise self.fail(node, f"cannot read `{text}` as {what} — write a plain value, or quote it "
                                  "to make it text") from None

    def _pairs(self, node: yaml.MappingNode, path: Path, seen: set[int] | None = None,
               depth: int = 0) -> tuple[list, list]:
        """(explicit key/value nodes, merged-in ones); `<<: *base` copies base's keys unless given.

        `seen` holds the mappings merged so far: merging one twice adds nothing (the first copy
        wins), and skipping it keeps chains of merges linear instead of exponential.
        """
        if node.tag != "tag:yaml.org,2002:map":
            raise self._tag(node)
        seen = {id(node)} if seen is None else seen
        self.visited += len(node.value)
        if self.visited > MAX_NODES:  # aliases of mappings repeating each other, with or without `<<`
            raise self._too_many(node, path)
        if depth > MAX_DEPTH:
            raise self.fail(node, f"merges (`<<`) nest more than {MAX_DEPTH} deep — write the keys out plainly")
        explicit, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                explicit.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    raise self.fail(src, "`<<` merges a mapping into this one — write `<<: *name` "
                                         "where `&name` marks a mapping")
                if id(src) in self.active:
                    raise self.fail(src, "this mapping merges itself (`<<`), so it never ends — "
                                         "point it at another anchor")
                if id(src) in seen:
                    continue
                seen.add(id(src))
                self.active.add(id(src))
                sub_explicit, sub_merged = self._pairs(src, path, seen, depth + 1)
                self.active.discard(id(src))
                merged += sub_explicit + sub_merged
        return explicit, merged

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        explicit, merged = self._pairs(node, path)
        for key_node, _ in explicit + merged:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "a key must be a plain word, not a list or mapping — "
                                          "write `key: value`")
            if key_node.tag not in _SCALARS:  # a key is read as its text, but a tag there is still a tag
                raise self._tag(key_node)
            self._text(key_node)
        out: dict = {}
        for key_node, value_node in explicit:
            key = str(key_node.value)
            if key in out:
                first = self.doc.key_marks[(*path, key)][0]
                raise self.fail(key_node, f"duplicate key `{key}` (first given on line {first}) — keep one")
            self.doc.key_marks[(*path, key)] = _pos(key_node)
            out[key] = self.build(value_node, (*path, key))
        for key_node, value_node in merged:
            key = str(key_node.value)
            if key not in out:  # explicit keys win, then the first merged
                self.doc.key_marks[(*path, key)] = _pos(key_node)
                out[key] = self.build(value_node, (*path, key))
        return out


def read_yaml(text: str, file: str) -> Located:
    """Parse `text`; raise ScenarioError (never a YAML exception) on any problem."""
    if text.startswith("\ufeff"):  # a byte-order mark some editors write; not part of the YAML
        text = text[1:]
    root = compose(text, file)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
        raise ScenarioError(file, 1, 1, "the file is empty — a scenario needs at least `name:` and "
                                        "`model:` (try `stepper new NAME` for a starter)")
    builder = _Builder(file)
    builder.doc.value = builder.build(root, ())
    return builder.doc
