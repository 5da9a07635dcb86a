"""`visible`: the one function that draws a file's control characters instead of sending them to the terminal."""

from __future__ import annotations

import pytest

from stepper.visible import is_visible, visible


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b]0;pwned\x07", "␛]0;pwned␇"),
    ("\x1b[2J", "␛[2J"),
    ("a\rb", "a␍b"),
    ("\x7f", "␡"),
    ("\x9b31m", "\\x9b31m"),
    ("abc\u202egnp.exe", "abc\\u202egnp.exe"),
    ("lone \udc80", "lone \\udc80"),
    ("\x00", "␀"),
])
def test_each_control_character_is_drawn(raw, shown):
    assert visible(raw) == shown


def test_ordinary_text_is_untouched_and_newlines_and_tabs_are_kept_unless_asked():
    text = "Scores Q·Kᵀ ÷ √d_k → −∞, « héllo » 日本\n\tnext"
    assert visible(text) is text
    assert visible("a\nb\tc", keep="") == "a␊b␉c"


def test_is_visible_agrees_with_visible():
    for text in ("plain", "a\x1bb", "a\nb", "\udcff"):
        assert is_visible(text) == (visible(text) == text)


def test_json_escaped_keeps_the_strings_and_the_layout():
    import json

    from stepper.visible import json_escaped

    doc = {"tokens": ["x\x1b[2J", "\x85", "\u202eabc", "\udc80", "plain é"], "n": [1, 2]}
    text = json_escaped(json.dumps(doc, ensure_ascii=False, indent=1))
    assert json.loads(text) == doc and is_visible(text)
