"""How text that a spec or stack config controls enters a document: one escaping function per output kind,
and the typed templates that apply them, so that no value (and no field added later) can become markup.

A writer never pastes a value into its output with an f-string. It writes its own markup as a literal of the
output kind and passes values as arguments:

    Markdown("| {} | {} |").format(agent.agent, change.after)       # values become inert code spans
    Html("<details><summary><b>{}</b></summary>").format(name)      # values become <code>, HTML-escaped
    Terminal("{} {}").format(change.subject, note)                  # values shown with escapes, one line each

`format`, `join` and `+` escape every argument that is not already text of the same kind; ints (counts, line
numbers) and enum members whose value is plain `Wording` pass as they are. Only a literal in the code may become
trusted text: `tests/render/test_escape.py` fails if `Markdown(...)`, `Html(...)`, `Terminal(...)` or
`Wording(...)` is called on text built at run time (an f-string, `+`, `%`, `.format`, `.join`). Anything else
that reaches a document, a plain `str`, is a value.

What each kind guarantees (tests/render/test_escape_property.py checks it for any string):

- GitHub Markdown (PR comment, job summary): a value is a code span, fenced by more backticks than it contains.
  GitHub renders nothing inside a code span: no HTML tag or comment, no emphasis, no link or image, no bare-URL
  or `www.` autolink, and its post-processing (`@user` and `@org/team` mentions, `#123`, `GH-123`,
  `owner/repo#1` and commit-SHA references, emoji) skips code. Backslash escapes would not be enough: mentions
  and references are found in the rendered text, after Markdown has removed the backslashes. In a table cell
  `|` is written `\\|` (`table_row`), which GitHub's table parser unescapes before reading the code span.
- HTML blocks the Markdown writer emits (`<details><summary>` lines): a value is `<code>` with `& < > " '` as
  entities; such a line must start an HTML block, where GitHub parses no Markdown at all.
- Every kind shows control, bidirectional and invisible characters as escapes first (`agentiam.characters`), so
  a value stays on its line (a table row, an HTML block, a workflow command) and reads as stored.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Callable, Iterable
from enum import Enum
from typing import ClassVar, TypeVar

from agentiam.characters import INVISIBLE, visible

T = TypeVar("T", bound="Trusted")

# --- escaping functions, one per output kind --------------------------------------------------------------------


def markdown_code(value: str) -> str:
    """`value` as a GitHub Markdown code span: `` `a` ``, ``` ``a`b`` ```, `` ` `a ` ``."""
    text = visible(value)
    if not text:
        return "` `"  # an empty span is not a code span; one space is (CommonMark strips no space from it)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    # CommonMark strips one space from each end of a span when both ends have one (unless it is all spaces):
    # pad a value starting or ending with a backtick (it would merge with the fence) or with spaces on both ends.
    pad = text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip(" "))
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def html_code(value: str) -> str:
    """`value` as `<code>` inside an HTML block: entities for `& < > " '`, so it closes no tag and opens none."""
    return f"<code>{html.escape(visible(value), quote=True)}</code>"


def terminal(value: str) -> str:
    """`value` for a terminal or a log: escapes for control and invisible characters (no colour, no overwrite)."""
    return visible(value)


_LINE_BREAKS = {"\r": "%0D", "\n": "%0A"}


def workflow_data(value: str) -> str:
    """The message of a GitHub workflow command (`::warning ...::MESSAGE`): `%`, CR and LF as `%25`, `%0D`, `%0A`
    (the runner decodes exactly these), every other control or invisible character as a visible escape."""
    return INVISIBLE.sub(lambda m: _LINE_BREAKS.get(m.group()) or visible(m.group()), value.replace("%", "%25"))


def workflow_property(value: str) -> str:
    """A property of a workflow command (`file=`, `title=`): as `workflow_data`, and `:` and `,` as `%3A`, `%2C`,
    which would otherwise end the property."""
    return workflow_data(value).replace(":", "%3A").replace(",", "%2C")


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): `=`, `+`, `-`, `@` (and their full-width
# forms, which some spreadsheets accept), also after leading spaces; tab and CR are already escapes (`visible`).
_FORMULA_START = re.compile("^[ ]*[=+\\-@\uff1d\uff0b\uff0d\uff20]")


def csv_cell(value: str) -> str:
    """A CSV cell for spreadsheets and SIEMs: control and invisible characters as escapes (one record per line),
    and a value a spreadsheet would evaluate (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`, `-1+1`) prefixed with
    `'`, which makes it text. The `csv` module quotes separators and quotes."""
    text = visible(value)
    return "'" + text if _FORMULA_START.match(text) else text


def sarif_text(value: str) -> str:
    """A SARIF `message.text` (plain text): `\\`, `[` and `]` escaped with a backslash, so no part of it reads as an
    embedded link `[text](target)` (SARIF 2.1.0, 3.11.6: code-scanning viewers render those as links); control
    and invisible characters as escapes. Braces stay: the messages carry no `arguments`, so no `{0}` is filled."""
    return visible(value).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def hcl_string(value: str) -> str:
    """`value` as one quoted HCL string (a Vault policy, a server config block): JSON's escapes, and `${` / `%{`
    doubled, which HCL would otherwise read as a template interpolation or directive."""
    return json.dumps(visible(value), ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def shell_word(value: str) -> str:
    """`value` as one POSIX shell word (single-quoted when it holds anything but safe characters): a command the
    bootstrap writes runs exactly the words it shows, whatever a stack config holds."""
    return shlex.quote(visible(value))


# --- trusted text -----------------------------------------------------------------------------------------------

# Wording is the project's own words, shared by every kind: none of these can start markup in any of them.
_NOT_WORDING = re.compile(r"[`*_<&|\\@#!$0-9]|://|www\.")


class Wording(str):
    """The project's own words (`widened`, `credential lifetime`, `path {s} added with [{a}]`), valid as they are
    in every output kind. Refuses, when created, anything that could be markup somewhere (a backtick, `*`, `_`,
    `<`, `&`, `|`, `\\`, `@`, `#`, `!`, `$`, a digit, a URL) or an invisible character."""

    __slots__ = ()

    def __new__(cls, text: str) -> Wording:
        if _NOT_WORDING.search(text) or visible(text) != text:
            raise ValueError(f"not plain wording (markup or invisible characters): {text!r}")
        return super().__new__(cls, text)

    @classmethod
    def vocabulary(cls, words: Iterable[str]) -> dict[str, Wording]:
        """A fixed vocabulary defined in code (operations, access levels, label ids) as wording, by word."""
        return {word: cls(word) for word in words}


def _enum_wording(member: Enum) -> Wording | None:
    try:
        return Wording(member.value) if isinstance(member.value, str) else None
    except ValueError:
        return None


class Trusted(str):
    """Text of one output kind that the code itself wrote; values combined with it are escaped by `escape`."""

    __slots__ = ()
    escape: ClassVar[Callable[[str], str]]
    kind: ClassVar[type[Trusted]]  # the kind whose instances are trusted (its variants share it)

    @classmethod
    def _trusted(cls, text: str) -> Trusted:
        return str.__new__(cls, text)

    @classmethod
    def _value(cls, value: object) -> str:
        """How one argument enters text of this kind: trusted as it is, or escaped."""
        if isinstance(value, cls.kind | Wording):
            return str(value)
        if isinstance(value, int) and not isinstance(value, bool | Enum):
            return str(value)
        if isinstance(value, Enum):
            word = _enum_wording(value)
            return word if word is not None else cls.escape(str(value.value))
        return cls.escape(value if isinstance(value, str) and not isinstance(value, Trusted) else str(value))

    @classmethod
    def value(cls: type[T], value: object) -> T:
        """One value, escaped, as text of this kind."""
        return cls._trusted(cls._value(value))  # type: ignore[return-value]

    @classmethod
    def compose(cls: type[T], template: Wording, *args: object, **kwargs: object) -> T:
        """Shared wording (`Wording`) filled with values, as text of this kind."""
        if not isinstance(template, Wording):
            raise TypeError(f"compose() takes Wording, not {type(template).__name__}: {template!r}")
        return cls._trusted(template).format(*args, **kwargs)  # type: ignore[return-value]

    @classmethod
    def with_values(cls: type[T], transform: Callable[[str], str]) -> type[T]:
        """A variant of this kind whose values pass through `transform` before being escaped (the Markdown writer
        writes `{env}` for an environment's name this way, inside values only, never inside markup)."""
        base_escape = cls.escape
        return type(f"{cls.__name__}Variant", (cls,),
                    {"__slots__": (), "escape": staticmethod(lambda text: base_escape(transform(text)))})

    def format(self, *args: object, **kwargs: object) -> Trusted:  # type: ignore[override]
        return self._trusted(str.format(self, *map(self._value, args),
                                        **{key: self._value(v) for key, v in kwargs.items()}))

    def join(self, items: Iterable[object]) -> Trusted:  # type: ignore[override]
        return self._trusted(str.join(self, map(self._value, items)))

    def __add__(self, other: object) -> Trusted:  # type: ignore[override]
        return self._trusted(str(self) + self._value(other))

    def __radd__(self, other: object) -> Trusted:
        return self._trusted(self._value(other) + str(self))

    def __mod__(self, other: object) -> Trusted:
        raise TypeError("use .format(): `%` would not escape its arguments")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"


class Markdown(Trusted):
    """GitHub Markdown written by the code; values become code spans (`markdown_code`)."""

    __slots__ = ()
    escape = staticmethod(markdown_code)


class Html(Trusted):
    """An HTML block line of a Markdown document (`<details><summary>...`); values become `<code>` (`html_code`).
    Only ever a whole line (`document`): inline, GitHub would parse Markdown between its tags."""

    __slots__ = ()
    escape = staticmethod(html_code)


class Terminal(Trusted):
    """Plain text for terminals, logs and annotation messages; values shown with visible escapes (`terminal`)."""

    __slots__ = ()
    escape = staticmethod(terminal)


class Hcl(Trusted):
    """HCL written by the code (Vault policies, server config blocks); values become quoted strings (`hcl_string`)."""

    __slots__ = ()
    escape = staticmethod(hcl_string)


class Shell(Trusted):
    """Shell commands written by the code; values become single words (`shell_word`)."""

    __slots__ = ()
    escape = staticmethod(shell_word)


Markdown.kind, Html.kind, Terminal.kind, Hcl.kind, Shell.kind = Markdown, Html, Terminal, Hcl, Shell

_HTML_BLOCK_START = re.compile(r"</?details[\s>]")


def table_row(*cells: Markdown) -> Markdown:
    """`| a | b |`: each cell's `|` written `\\|`, which GitHub's table parser reads as part of the cell (also
    inside a code span); a cell that is not Markdown is a value."""
    escaped = [Markdown._value(cell).replace("|", "\\|") for cell in cells]
    return Markdown._trusted("| " + " | ".join(escaped) + " |")  # type: ignore[return-value]


def document(lines: Iterable[Markdown | Html]) -> str:
    """The Markdown document of `lines`: Markdown lines, and Html lines that each start an HTML block (GitHub
    parses no Markdown in one, up to the next blank line; values hold no line break). Any other line is a value."""
    out = []
    for line in lines:
        if isinstance(line, Html) and not _HTML_BLOCK_START.match(line):
            raise ValueError(f"an Html line must start an HTML block (<details>): {line!r}")
        out.append(str(line) if isinstance(line, Markdown | Html) else markdown_code(str(line)))
    return "\n".join(out) + "\n"
