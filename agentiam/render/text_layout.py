"""Terminal text laid out to a width without cutting a value: lines break between values, never inside one.

An ARN, a name or a path is one atom: a line breaks before it when it does not fit, and an atom longer than the
whole line stands alone on its line, whole (the terminal folds it, and copying it gives it back unbroken). Nothing is
truncated, whatever the width. Every piece is `Terminal` text (`agentiam.render.escape`): values are shown with
escapes for control and invisible characters before they are measured.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from agentiam.render.escape import Terminal

DEFAULT_WIDTH = 80


def cells(text: str) -> int:
    """Terminal columns `text` takes: wide East Asian characters two, combining marks none, the rest one."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def atoms(values: Sequence[object], separator: str = ",") -> list[Terminal]:
    """Values as atoms of a list, each but the last followed by `separator` (`a,` `b,` `c`)."""
    shown = [Terminal.value(v) if not isinstance(v, Terminal) else v for v in values]
    return [Terminal("{}{}").format(atom, separator) if i < len(shown) - 1 else atom for i, atom in enumerate(shown)]


def words(text: str) -> list[Terminal]:
    """Prose (or a phrase whose values hold no space) as atoms, one per word: split at spaces only, so a line
    break or a tab stays in its word and is shown as an escape, as everywhere else."""
    return [Terminal.value(word) for word in text.split(" ") if word]


def wrap(first: Terminal, parts: Sequence[Terminal], width: int, indent: int) -> list[Terminal]:
    """`first` followed by `parts` separated by spaces, in lines of at most `width` columns where the atoms allow;
    continuation lines start with `indent` spaces. A part wider than a line gets a line of its own."""
    lines: list[Terminal] = []
    line, bare = first, True  # bare: nothing but the prefix on the line yet
    pad = Terminal.value(" " * indent)
    for part in parts:
        if bare:
            line, bare = line + part, False
        elif cells(line) + 1 + cells(part) <= width:
            line = Terminal("{} {}").format(line, part)
        else:
            lines.append(line)
            line = pad + part
    lines.append(line)
    return lines


def table(header: Sequence[str], rows: Sequence[Sequence[Terminal]], width: int, indent: int = 2) -> list[Terminal]:
    """Aligned columns when they fit in `width`; otherwise one entry per row, its first cell followed by the others
    as `column value` pairs, wrapped (a long name never squeezes a column into cutting it)."""
    shown = [[Terminal.value(h) for h in header], *[list(row) for row in rows]]
    widths = [max(cells(row[i]) for row in shown) for i in range(len(header))]
    pad = Terminal.value(" " * indent)
    if indent + sum(widths) + 2 * (len(widths) - 1) <= width:  # the last column is not padded
        return [pad + Terminal("  ").join([*(Terminal("{}{}").format(cell, " " * (w - cells(cell)))
                                             for cell, w in zip(row[:-1], widths)), row[-1]]) for row in shown]
    lines: list[Terminal] = []
    for row in rows:
        pairs = [Terminal("{} {}{}").format(h, cell, "," if i < len(row) - 2 else "")
                 for i, (h, cell) in enumerate(zip(header[1:], row[1:]))]
        lines += wrap(pad + Terminal("{}: ").format(row[0]), pairs, width, indent + 4)
    return lines


def fold(line: Terminal, width: int, hanging: int) -> list[Terminal]:
    """A line already written, at most `width` columns per line: broken at the last space that fits, continued
    `hanging` spaces in; a run without a space wider than the line stays whole (its line runs longer)."""
    text, lines, prefix = str(line), [], ""
    while cells(prefix + text) > width:
        lead = len(text) - len(text.lstrip(" "))
        cut = text.rfind(" ", lead + 1, max(lead + 1, width - len(prefix)) + 1)
        if cut == -1:
            cut = text.find(" ", max(lead + 1, width - len(prefix)))
            if cut == -1:
                break
        lines.append(Terminal.value(prefix + text[:cut].rstrip(" ")))
        text, prefix = text[cut:].lstrip(" "), " " * hanging
    lines.append(Terminal.value(prefix + text))
    return lines
