"""Characters that change what a reader sees without being seen: refused in specs and stack configs
(`spec.types.VisibleText`), shown as escapes by every writer (`visible`).

- Control characters (Unicode category Cc): a newline starts a line of its own (a forged finding, a workflow
  command, a Markdown block of its own), an escape sequence recolours or rewrites a terminal, CR overwrites a line.
- Format characters (Cf): the bidirectional overrides and isolates U+202A-U+202E and U+2066-U+2069 reorder how a
  line is displayed, so a reviewer reads something other than what is applied ("Trojan Source",
  CVE-2021-42574); zero-width spaces and joiners, the word joiner, the byte-order mark, the soft hyphen and the
  tag characters U+E0000-U+E007F are invisible, so two values that look alike differ, or carry hidden text.
- Line and paragraph separators U+2028/U+2029 (Zl, Zp) end a line in some viewers; lone surrogates (Cs) cannot
  be written as UTF-8 at all (a YAML `"\\ud800"` escape produces one).
- Letters and marks that render as nothing: the Hangul fillers, the combining grapheme joiner, the Khmer
  inherent vowels (the usual "invisible name" characters).
"""

from __future__ import annotations

import re
import unicodedata

# Generated from Python's Unicode database (categories Cc, Cf, Cs, Zl, Zp) plus the invisible letters above;
# tests/test_characters.py fails if a newer Unicode version adds one this class lacks.
_RANGES = ("\x00-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
           "\u17b4\u17b5\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ud800-\udfff\ufeff"
           "\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
           "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
INVISIBLE = re.compile(f"[{_RANGES}]")

# The same rule for JSON-schema validators in editors (ECMA-262 regular expressions without the `u` flag): only
# the Basic Multilingual Plane, and no surrogates, which would match half of every emoji there.
EDITOR_PATTERN = ("[\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f"
                  "\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b-\\u200f\\u2028-\\u202e"
                  "\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb]")


def first_invisible(text: str) -> tuple[int, str] | None:
    """(0-based index, character) of the first character a reader cannot see, or None."""
    match = INVISIBLE.search(text)
    return (match.start(), match.group()) if match else None


def describe(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: how a message names a character it must not show."""
    name = unicodedata.name(char, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB",
                                          "\x1b": "ESCAPE"}.get(char, "a control character")
    return f"U+{ord(char):04X} {name}"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` with every character of `INVISIBLE` written as an escape (`\\n`, `\\x1b`, `\\u202e`): one value stays
    on one line, reads left to right as stored, and shows whatever was hidden in it."""
    return INVISIBLE.sub(_escape, text)
