"""Findings as text (file:line:col  RULE  message) or JSON."""

from __future__ import annotations

import json

from agentiam.findings import Finding, Severity


def render_text(findings: list[Finding], files_checked: int) -> str:
    lines = [f.render() for f in findings]
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    verdict = "ok" if not errors else "FAILED"
    lines.append(f"{files_checked} spec(s) checked: {errors} error(s), {warnings} warning(s) - {verdict}")
    return "\n".join(lines) + "\n"


def render_json(findings: list[Finding], files_checked: int) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    return json.dumps({"files_checked": files_checked, "errors": errors, "warnings": len(findings) - errors,
                       "findings": [f.as_dict() for f in findings]}, indent=2) + "\n"


def render_sarif(findings: list[Finding], files_checked: int) -> str:
    from agentiam.render.sarif import render_sarif as sarif  # its rule metadata is loaded only when asked for

    return sarif(findings)


# The formats of this module, by the name `--format` takes (agentiam.cli.common.format_option).
FORMATS = {"text": render_text, "json": render_json, "sarif": render_sarif}


def render(fmt: str, findings: list[Finding], files_checked: int) -> str:
    """Dispatch on the output format name."""
    return FORMATS[fmt](findings, files_checked)


def render_rules_markdown() -> str:
    """The guardrails as a Markdown table (id, severity, rule, rationale), generated from the registry for
    docs/guardrails.md; a test keeps the page in sync."""
    from agentiam.rules.registry import rule_index

    lines = ["| id | severity | rule | why |", "|---|---|---|---|"]
    for rule in rule_index():
        lines.append(f"| {rule.id} | {rule.severity.value} | {rule.title.replace('|', '/')} | "
                     f"{rule.rationale.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def render_input_checks_markdown() -> str:
    """The checks made while reading a file, before any guardrail runs (every id of `READ_CHECKS`, as SARIF describes
    them), as a Markdown table for docs/guardrails.md; a test keeps the page in sync."""
    from agentiam.render.sarif import READ_CHECKS

    lines = ["| id | check | why |", "|---|---|---|"]
    for check_id, title, rationale in sorted(READ_CHECKS):
        lines.append(f"| {check_id} | {title.replace('|', '/')} | {rationale.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
