"""Read YAML safely into plain Python values while remembering where every key and value stood.

PyYAML composes the document into nodes (no construction, so no tag can run code); we
turn the nodes into dicts, lists and scalars ourselves, recording each one's line and column
by its path, so that a later check can point at the exact spot it objects to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from stepper.scenario.errors import ScenarioError

Path = tuple  # keys and list indexes from the document root

# a document whose aliases expand past this many nodes is refused (the "billion laughs")
MAX_NODES = 200_000

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}


@dataclass
class Located:
    """A document's values plus where each path began (1-based line and column)."""

    value: object
    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its closest ancestor that has one."""
        table = self.key_marks if key else self.marks
        for cut in range(len(path), -1, -1):
            sub = tuple(path[:cut])
            if sub in table:
                return table[sub]
            if sub in self.marks:
                return self.marks[sub]
        return (1, 1)

    def error(self, path: Path, message: str, *, key: bool = False) -> ScenarioError:
        line, col = self.where(path, key=key)
        return ScenarioError(self.file, line, col, message)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.visited = 0
        self.constructor = SafeConstructor()
        self.marks: dict[Path, tuple[int, int]] = {}
        self.key_marks: dict[Path, tuple[int, int]] = {}

    def fail(self, node: yaml.Node, message: str) -> ScenarioError:
        line, col = _pos(node)
        return ScenarioError(self.file, line, col, message)

    def build(self, node: yaml.Node, path: Path) -> object:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.fail(node, f"the document expands to more than {MAX_NODES} values "
                                  "(aliases nested too deep?) — write the values out plainly")
        self.marks[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.fail(node, f"tag {node.tag} is not allowed — remove it")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, f"tag {node.tag} is not allowed in a scenario (nothing in a scenario "
                                  "may run code) — remove the tag and write a plain value")
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError) as exc:
            raise self.fail(node, f"cannot read this value: {exc}") from None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise self.fail(node, f"tag {node.tag} is not allowed — remove it")
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, "merge keys (<<) are not supported — write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "a key must be a plain word, not a list or mapping")
            key = str(key_node.value)
            if key in out:
                first = self.key_marks[(*path, key)][0]
                raise self.fail(key_node, f"duplicate key `{key}` (first given on line {first}) — keep one")
            self.key_marks[(*path, key)] = _pos(key_node)
            out[key] = self.build(value_node, (*path, key))
        return out


def read_yaml(text: str, file: str) -> Located:
    """Parse `text`; raise ScenarioError (never a YAML exception) on any problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = " — indent with spaces, not tabs" if "\t" in text and "tab" in str(exc).lower() + problem else ""
        raise ScenarioError(file, line, col, f"YAML syntax: {problem}{hint}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, 1, 1, f"YAML syntax: {exc}") from None
    if root is None:
        raise ScenarioError(file, 1, 1, "the file is empty — a scenario needs at least `name:` and `model:`")
    builder = _Builder(file)
    value = builder.build(root, ())
    return Located(value, file, builder.marks, builder.key_marks)
