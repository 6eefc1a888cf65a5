"""The check report as text, JSON, Markdown and SARIF.

Everything a finding shows comes from log lines or specs (paths, addresses, error messages, ARNs an agent chose):
each writer composes through `agentiam.render.escape`, its own words as literals, every value an argument, so a log
line can neither start a line of its own in a terminal nor become markup, a link or a mention in Markdown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentiam import __version__
from agentiam.audit.model import format_time
from agentiam.check.model import CheckFinding, CheckReport
from agentiam.check.rules import CHECK_RULES, RULES_BY_ID, Level
from agentiam.render.escape import Markdown, Terminal, Wording, document, sarif_text, table_row
from agentiam.render.sarif import SARIF_SCHEMA, _artifact, repository_root

LEVEL_WORD = Wording.vocabulary(level.value for level in Level)
_TITLES = Wording.vocabulary(rule.title for rule in CHECK_RULES)  # the registry's own fixed words
TITLE = {rule.id: _TITLES[rule.title] for rule in CHECK_RULES}
_SARIF_LEVEL = {Level.HIGH: "error", Level.MEDIUM: "warning", Level.LOW: "note"}
INFORMATION_URI = "https://github.com/agentiam/agentiam/blob/main/docs/check.md"


def _span(report: CheckReport) -> tuple[str, str]:
    return format_time(report.since), format_time(report.until)


def _evidence(finding: CheckFinding) -> list[str]:
    return [f"{format_time(e.time)} {', '.join(e.lines)}" for e in finding.evidence]


# -- text -----------------------------------------------------------------------------------------------------------

def render_text(report: CheckReport) -> str:
    since, until = _span(report)
    lines = [Terminal("agentiam check: {} to {}; environments: {}").format(
        since, until, Terminal(", ").join(report.environments) if report.environments else Terminal("none seen"))]
    for finding in report.findings:
        lines.append(Terminal("{} {} {} {} {}: {}").format(
            LEVEL_WORD[finding.severity.value], finding.rule_id, finding.environment or "-", finding.agent or "-",
            finding.subject, finding.message))
        if finding.file:
            lines.append(Terminal("    spec: {}:{}:{} {}").format(finding.file, finding.line, finding.column,
                                                                  finding.field))
        for item in finding.evidence:
            lines.append(Terminal("    evidence: {} {}{}").format(
                format_time(item.time), Terminal(", ").join(item.lines),
                Terminal(" ({})").format(item.detail) if item.detail else Terminal("")))
        if finding.count > len(finding.evidence):
            lines.append(Terminal("    ... {} record(s) in all").format(finding.count))
        if finding.suggestion:
            lines.append(Terminal("    fix: {}").format(finding.suggestion))
    lines.append(Terminal("agents: {} judged").format(len(report.activity)))
    for activity in report.activity:
        lines.append(Terminal("  {} {}: {} event(s), {} login(s), {} failed, {} refused, {} of {} grant(s) unused{}")
                     .format(activity.environment, activity.agent, activity.events, activity.logins,
                             activity.failed_logins, activity.denied, activity.unused, activity.grants,
                             Terminal(" (unused not judged: {})").format(activity.not_judged_because)
                             if not activity.judged and activity.not_judged_because else Terminal("")))
    for note in report.notes:
        lines.append(Terminal("note: {}").format(note))
    for problem in report.problems:
        lines.append(Terminal("input problem: {}").format(problem))
    summary = report.summary()
    lines.append(Terminal("{} finding(s): {} high, {} medium, {} low").format(
        len(report.findings), summary["high"], summary["medium"], summary["low"]))
    return "\n".join(lines) + "\n"


# -- JSON -----------------------------------------------------------------------------------------------------------

def render_json(report: CheckReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


# -- Markdown -------------------------------------------------------------------------------------------------------

def render_markdown(report: CheckReport) -> str:
    since, until = _span(report)
    summary = report.summary()
    out: list[Markdown] = [
        Markdown("## agentiam: continuous validation"), Markdown(""),
        Markdown("Window {} to {}; environments {}: {} high, {} medium, {} low.").format(
            since, until, Markdown(", ").join(report.environments) if report.environments else Markdown("none"),
            summary["high"], summary["medium"], summary["low"]),
        Markdown(""),
    ]
    if report.findings:
        out += [Markdown("| severity | rule | env | agent | subject | finding | count | spec |"),
                Markdown("|---|---|---|---|---|---|---:|---|")]
        for finding in report.findings:
            where = Markdown("{}").format(f"{finding.file}:{finding.line}") if finding.file else Markdown("")
            out.append(table_row(Markdown("{}").format(LEVEL_WORD[finding.severity.value]),
                                 Markdown("{} {}").format(finding.rule_id, TITLE[finding.rule_id]),
                                 Markdown.value(finding.environment or "-"), Markdown.value(finding.agent or "-"),
                                 Markdown.value(finding.subject), Markdown.value(finding.message),
                                 Markdown("{}").format(finding.count), where))
        out.append(Markdown(""))
        out.append(Markdown("### Evidence and fixes"))
        out.append(Markdown(""))
        for finding in report.findings:
            out.append(Markdown("- {} {} {}: {}").format(finding.rule_id, finding.agent or "-", finding.subject,
                                                         finding.suggestion or "-"))
            for item in _evidence(finding):
                out.append(Markdown("  - {}").format(item))
    else:
        out.append(Markdown("No finding."))
    if report.notes:
        out += [Markdown(""), Markdown("### Notes"), Markdown("")]
        out += [Markdown("- {}").format(note) for note in report.notes]
    if report.problems:
        out += [Markdown(""), Markdown("### Input problems"), Markdown("")]
        out += [Markdown("- {}").format(problem) for problem in report.problems]
    return document(out)


# -- SARIF ----------------------------------------------------------------------------------------------------------

def _descriptor(rule_id: str) -> dict:
    rule = RULES_BY_ID[rule_id]
    return {"id": rule.id, "name": "".join(part.capitalize() for part in rule.name.split("-")),
            "shortDescription": {"text": rule.title}, "fullDescription": {"text": rule.rationale},
            "help": {"text": rule.remedy}, "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]}}


def render_sarif(report: CheckReport, root: Path | None = None) -> str:
    """One SARIF run: every check rule as metadata, one result per finding, located on the spec line to change
    (a finding with no spec line, failed logins matching no agent, has no location)."""
    root = (root or repository_root(Path(os.getcwd()).resolve())).resolve()
    index = {rule.id: i for i, rule in enumerate(CHECK_RULES)}
    results = []
    for finding in report.findings:
        text = f"{finding.environment or '-'} {finding.agent or '-'}: {finding.subject}: {finding.message}"
        if finding.suggestion:
            text += f" Fix: {finding.suggestion}"
        result: dict = {"ruleId": finding.rule_id, "ruleIndex": index[finding.rule_id],
                        "level": _SARIF_LEVEL[finding.severity], "message": {"text": sarif_text(text)},
                        "properties": {"agent": finding.agent, "environment": finding.environment,
                                       "count": finding.count, "evidence": [e.as_dict() for e in finding.evidence]}}
        if finding.file:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": _artifact(finding.file, root),
                "region": {"startLine": finding.line, "startColumn": finding.column}}}]
        results.append(result)
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "agentiam-check", "version": __version__, "informationUri": INFORMATION_URI,
                            "rules": [_descriptor(rule.id) for rule in CHECK_RULES]}},
        "columnKind": "unicodeCodePoints", "results": results}]}
    return json.dumps(log, indent=2) + "\n"


# The formats of this module, by the name `--format` takes (agentiam.cli.common.format_option).
FORMATS = {"text": render_text, "json": render_json, "markdown": render_markdown, "sarif": render_sarif}


def render(fmt: str, report: CheckReport) -> str:
    """Dispatch on the output format name."""
    return FORMATS[fmt](report)


def rules_markdown() -> str:
    """The check rules as a Markdown table for the docs (a test keeps docs/check.md in sync). Only the registry's
    own text goes in, so it is written as it is, as the guardrails' table is."""
    lines = ["| id | name | severity | finding | why | what to do |", "|---|---|---|---|---|---|"]
    for rule in CHECK_RULES:
        cells = (rule.id, f"`{rule.name}`", rule.severity.value, rule.title, rule.rationale, rule.remedy)
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
