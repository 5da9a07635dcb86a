"""Text from a file, made safe to show: every control character drawn, none obeyed.

A scenario's strings are the learner's (or anyone's) text, and YAML's double quotes can write any
character: `"\\e]0;…\\a"` would retitle the terminal window, `"\\e]52;c;…\\a"` fill the clipboard,
`"\\r✓ …"` overwrite a line with a forged verdict. `visible` draws such characters instead: C0
controls and DEL as their Unicode control pictures (ESC → ␛, BEL → ␇), C1 controls, the
direction overrides that reorder a line, and lone surrogates (which no terminal encoding can even
write) as `\\x9b`-style escapes. Ordinary text, non-ASCII letters and symbols included, is left
as it is. It is applied where text leaves (the CLI's stdout and stderr, markdown exports) and
where a file's text enters what is shown (scenario errors, the TUI's scenario).
"""

from __future__ import annotations

import re

_PICTURES = {c: chr(0x2400 + c) for c in range(0x20)} | {0x7F: "\u2421"}
_ESCAPED = [*range(0x80, 0xA0), 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = _PICTURES | {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _ESCAPED}
_SURROGATE = re.compile("[\ud800-\udfff]")
_BEYOND_C0 = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")  # json.dumps escapes C0 itself; its layout's newlines stay


def visible(text: str, *, keep: str = "\n\t") -> str:
    """`text` with every control character other than those in `keep` drawn, not obeyed."""
    if is_visible(text, keep=keep):  # by far the usual case: nothing to do, and nothing copied
        return text
    table = {c: r for c, r in _TABLE.items() if chr(c) not in keep}
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text.translate(table))


def json_escaped(text: str) -> str:
    """JSON text (from json.dumps, which escapes C0 itself) with every other such character written
    as a `\\uXXXX` escape: the same strings once parsed, nothing for a terminal to obey when shown."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def is_visible(text: str, *, keep: str = "\n\t") -> bool:
    """True when `visible` would leave `text` as it is."""
    return all(ch in keep for ch in _UNSAFE.findall(text))
