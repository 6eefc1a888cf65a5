"""The one definition of characters a reader cannot see: complete for this Python's Unicode, the same for
editors, and shown as escapes."""

from __future__ import annotations

import re
import sys
import unicodedata

from agentiam.characters import EDITOR_PATTERN, INVISIBLE, describe, first_invisible, visible

CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_every_control_format_separator_and_surrogate_character_is_invisible():
    missing = [f"U+{cp:04X}" for cp in range(sys.maxunicode + 1)
               if unicodedata.category(chr(cp)) in CATEGORIES and not INVISIBLE.match(chr(cp))]
    assert missing == [], "a newer Unicode added format characters: add them to agentiam.characters._RANGES"


def test_letters_digits_punctuation_spaces_and_emoji_are_visible():
    text = "Ab9 -_.,;:!?'\"()[]{}<>@#$%^&*+=|\\/~`ä ß ש 請 é 💻 ⚠️ \u00a0"
    assert first_invisible(text) is None and visible(text) == text


def test_the_editor_pattern_is_the_same_rule_on_the_basic_multilingual_plane():
    editor = re.compile(EDITOR_PATTERN.encode().decode("unicode_escape"))
    differ = [f"U+{cp:04X}" for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF
              and bool(editor.match(chr(cp))) != bool(INVISIBLE.match(chr(cp)))]
    assert differ == []


def test_visible_writes_escapes_that_keep_a_value_on_one_line_and_in_order():
    assert visible("a\nb\r\tc\x1b[31m\x7f") == "a\\nb\\r\\tc\\x1b[31m\\x7f"
    assert visible("abc\u202edef\u2066") == "abc\\u202edef\\u2066"
    assert visible("x\U000e0041y") == "x\\U000e0041y"
    assert visible("\u3164") == "\\u3164"


def test_first_invisible_and_describe_name_the_character():
    assert first_invisible("abc\u202e") == (3, "\u202e")
    assert describe("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert describe("\n") == "U+000A LINE FEED"
    assert describe("\x1b") == "U+001B ESCAPE"
    assert describe("\x01") == "U+0001 a control character"
