"""AGT009: nothing left that only stands for a value: the placeholders `agentiam new` writes, and their kind.

The skeleton validates against every other guardrail as written, so that the next `agentiam validate` lists
exactly what is still to be filled in; this rule makes sure it cannot be merged before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from agentiam.findings import Finding, Severity
from agentiam.rules.base import Rule, SpecContext
from agentiam.spec.source import PathPart

# Words that mark a value as one to replace, wherever they stand (a team, an e-mail, an ARN, a KV path): the
# skeleton's `change-me`, and the spellings people use for the same.
MARKER = re.compile(r"(?<![a-z0-9])(change-?me|replace-?me|fill-?me-?in)(?![a-z0-9])", re.IGNORECASE)
# Prose that says what to write instead of saying something: the skeleton's `Replace with ...`, and to-do notes.
PLACEHOLDER_PROSE = re.compile(r"\s*(replace (this )?with\b|(todo|tbd|fixme|xxx)(\W|$))", re.IGNORECASE)
PROSE_FIELDS = frozenset({"description", "purpose", "reason", "contact"})
# Domains reserved for examples and tests (RFC 2606, RFC 6761): no real endpoint lives there, so an egress host
# in one is a placeholder (the skeleton's `api.example.com`).
RESERVED_DOMAINS = ("example", "example.com", "example.net", "example.org", "test", "invalid", "localhost")


def _strings(value: Any, path: tuple[PathPart, ...]) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    """(path, text) of every string value of the document (keys are field or environment names, not values)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def reserved_domain(host: str) -> str | None:
    """The reserved example/test domain `host` lies in, or None."""
    return next((d for d in RESERVED_DOMAINS if host == d or host.endswith("." + d)), None)


def placeholder_problem(path: tuple[PathPart, ...], text: str) -> str | None:
    """Why the string at `path` is a placeholder, or None."""
    marker = MARKER.search(text)
    if marker:
        return f"{marker.group()!r} marks a placeholder; write the real value"
    prose = PLACEHOLDER_PROSE.match(text) if path[-1:] and path[-1] in PROSE_FIELDS else None
    if prose:
        return f"placeholder text (starts {prose.group(1).strip()!r}); write what it asks for"
    if path[-1:] == ("host",) and "egress" in path:
        domain = reserved_domain(text.lower())
        if domain:
            return (f"{text} is in {domain}, a domain reserved for examples (RFC 2606, RFC 6761) where no real "
                    "endpoint lives; name the host the agent really calls")
    return None


# Every word `placeholder_problem` looks for (MARKER, PLACEHOLDER_PROSE), searched once over the whole document with
# `in`: most specs hold none, and walking every string, or one case-insensitive regex over the document, cost a
# tenth of `validate` (bench/bench_validate.py). Hosts are few and are checked one by one (`_hosts`).
_SUSPECT_WORDS = ("changeme", "change-me", "replace", "fillme", "fill-me", "todo", "tbd", "fixme", "xxx")


def _suspect(data: Any) -> bool:
    text = json.dumps(data).lower()
    return any(word in text for word in _SUSPECT_WORDS)


def _hosts(data: Any) -> Iterator[tuple[tuple[PathPart, ...], str]]:
    """(path, host) of every egress endpoint: the spec's network and each override's."""
    if not isinstance(data, dict):
        return
    networks: list[tuple[tuple[PathPart, ...], Any]] = [(("network",), data.get("network"))]
    overrides = data.get("overrides")
    if isinstance(overrides, dict):
        networks += [(("overrides", env, "network"), o.get("network")) for env, o in overrides.items()
                     if isinstance(o, dict)]
    for path, network in networks:
        egress = network.get("egress") if isinstance(network, dict) else None
        for i, endpoint in enumerate(egress if isinstance(egress, list) else []):
            if isinstance(endpoint, dict) and isinstance(endpoint.get("host"), str):
                yield (*path, "egress", i, "host"), endpoint["host"]


def _check_placeholders(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    # The document as written, not the model: a placeholder is one whatever else is wrong with the file, so the
    # rule also runs on a file with schema errors (agentiam.spec.validate.PartialSpec).
    data = ctx.loaded.document.data
    candidates = _strings(data, ()) if _suspect(data) else _hosts(data)
    for path, text in candidates:
        problem = placeholder_problem(path, text)
        if problem:
            yield ctx.finding(rule, path, problem)


NO_PLACEHOLDERS = Rule(
    id="AGT009", severity=Severity.ERROR, title="No placeholders left",
    rationale="`agentiam new` writes placeholders (`Replace with ...`, `change-me`, `api.example.com`); a spec "
              "approved with them names no real owner, purpose or endpoint.",
    check=_check_placeholders)
