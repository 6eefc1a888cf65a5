"""Findings as SARIF 2.1.0, for code-scanning annotations on the offending spec lines."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from agentiam import __version__
from agentiam.characters import visible
from agentiam.findings import Finding, Severity
from agentiam.environment.load import CONFIG_CHECKS
from agentiam.inputs.files import FILE_CHECKS
from agentiam.render.escape import sarif_text
from agentiam.rules.registry import INPUT_CHECKS, describe_rule, rule_index

# Every check made while reading inputs: specs' YAML and schema, files, stack configs.
READ_CHECKS = (*INPUT_CHECKS, *FILE_CHECKS, *CONFIG_CHECKS)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/agentiam/agentiam#writing-an-agent-spec"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def _rule_name(title: str) -> str:
    """`Token max TTL at most 24h` -> `TokenMaxTtlAtMost24h` (SARIF names are identifiers)."""
    return "".join(word[:1].upper() + word[1:].lower() for word in re.findall(r"[A-Za-z0-9]+", title))


def _descriptor(rule_id: str) -> dict:
    title, rationale, severity = next(((t, r, Severity.ERROR) for i, t, r in READ_CHECKS if i == rule_id), None) \
        or describe_rule(rule_id)
    return {
        "id": rule_id,
        "name": _rule_name(title),
        "shortDescription": {"text": title},
        "fullDescription": {"text": rationale or title},
        "help": {"text": rationale or title},
        "defaultConfiguration": {"level": _LEVELS[severity]},
    }


def repository_root(start: Path) -> Path:
    """The nearest folder holding `.git` or `Pulumi.yaml` at or above `start` (else `start`): what SARIF URIs
    are relative to, so annotations land on the right file whichever folder `validate` ran from."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "Pulumi.yaml").is_file():
            return folder
    return start


def _artifact(file: str, root: Path) -> dict:
    """The file relative to `root` (the repository) in forward slashes, as code scanning expects; an absolute
    `file:` URI for a file outside the repository. A URI reference is percent-encoded: a `#` or `?` in a file name
    would otherwise end its path, a space or `<` make it no URI at all."""
    try:
        path = Path(file).resolve()
    except (OSError, UnicodeError):  # a name no file system could hold (a lone surrogate): as written
        path = Path(os.path.abspath(file))
    try:
        return {"uri": quote(PurePosixPath(*path.relative_to(root).parts).as_posix(), safe="/",
                             errors="surrogatepass"), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        return {"uri": "file://" + quote(path.as_posix(), safe="/", errors="surrogatepass")}


def render_sarif(findings: list[Finding], root: Path | None = None) -> str:
    """One SARIF run: every rule agentiam knows as metadata, one result per finding."""
    root = (root or repository_root(Path(os.getcwd()).resolve())).resolve()
    ids = [r.id for r in rule_index()] + [check_id for check_id, _, _ in READ_CHECKS]
    ids += sorted({f.rule_id for f in findings} - set(ids))
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    results = []
    for finding in findings:
        result = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": _LEVELS[finding.severity],
            "message": {"text": sarif_text(f"{finding.path}: {finding.message}" if finding.path else finding.message)},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": _artifact(finding.file, root),
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                },
            }],
        }
        if finding.path:
            result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": visible(finding.path),
                                                           "kind": "member"}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "agentiam", "version": __version__, "informationUri": INFORMATION_URI,
                                "rules": [_descriptor(rule_id) for rule_id in ids]}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
