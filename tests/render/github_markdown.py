"""What GitHub makes of a Markdown document, for tests: its structure, its comments and its text outside code.

The Markdown is parsed by cmark-gfm, the parser GitHub renders comments and job summaries with (`cmarkgfm`, with
GitHub's extensions: tables, autolinks, tag filter, strikethrough, task lists), raw HTML kept as GitHub keeps the
tags it allows. GitHub then finds `@mentions`, `#123` / `GH-123` / `owner/repo#1` references and commit SHAs in the
rendered text outside `<code>`, `<pre>` and `<a>`: `Rendered.prose` is that text, so a test comparing it with the
rendering of a harmless value proves a value added none.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

_VOID = frozenset({"br", "hr", "img", "input", "wbr", "col", "area", "base", "link", "meta", "source"})


@dataclass(frozen=True)
class Rendered:
    """A rendered document, reduced to what a value must never change."""

    tags: tuple[str, ...]  # every start and end tag in order (`table`, `/table`, `details`, `h2`, `code`...)
    comments: tuple[str, ...]  # HTML comments, in order
    prose: tuple[str, ...]  # text outside <code>/<pre>/<a>, per block: where GitHub links mentions and references
    links: tuple[str, ...]  # href/src of <a> and <img>

    def count(self, tag: str) -> int:
        return self.tags.count(tag)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.prose: list[str] = [""]
        self.links: list[str] = []
        self.inert = 0  # depth inside code / pre / a

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]
        if tag in ("code", "pre", "a"):
            self.inert += 1
        self.prose.append("")  # a tag separates text runs (GitHub's filters work per text node)
        if tag in _VOID:
            self.tags.append("/" + tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)
        if tag in ("code", "pre", "a"):
            self.inert -= 1
        self.prose.append("")

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        if not self.inert:
            self.prose[-1] += data


def github_html(markdown: str) -> str:
    """The HTML GitHub's parser makes of `markdown` (before GitHub's sanitizer and reference filters)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def render(markdown: str) -> Rendered:
    collector = _Collector()
    collector.feed(github_html(markdown))
    collector.close()
    return Rendered(tuple(collector.tags), tuple(collector.comments),
                    tuple(text for text in collector.prose if text.strip()), tuple(collector.links))
