"""The live inventory's report (`agentiam inventory --live`) as text, JSON, CSV and Markdown: the findings, worst
first, each with its fix, then what was and was not checked.

Text and Markdown lines are composed through `agentiam.render.escape` (`Terminal`, `Markdown`): targets, names,
messages and fixes are values. CSV cells go through `escape.csv_cell` (no formula a spreadsheet would run).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from agentiam.inventory.live import Kind, LiveFinding, LiveReport, Outcome, exit_code
from agentiam.render.escape import Markdown, Terminal, Wording, csv_cell, document, table_row

LIVE_FORMAT = 1
_RESULT = {0: Wording("in sync: nothing undeclared, long-lived or drifted"),
           1: Wording("findings: something is undeclared, long-lived or drifted"),
           2: Wording("INCOMPLETE: some parts could not be read (see what was checked)")}


def _title(report: LiveReport, kind: type[Terminal] | type[Markdown]) -> Terminal | Markdown:
    counts = report.counts()
    return kind("agentiam inventory --live: {} ({} agent(s) planned), Vault {}, AWS {}, as of {}: {} undeclared, "
                "{} long-lived, {} drifted").format(
        report.environment, report.agents, report.vault_address or "not read", report.aws_endpoint or "not read",
        report.now, counts[Kind.UNDECLARED.value], counts[Kind.LONG_LIVED.value], counts[Kind.DRIFTED.value])


def render_text(report: LiveReport) -> str:
    lines = [_title(report, Terminal), Terminal("")]
    for f in report.findings:
        about = Terminal(" ({}, {})").format(f.agent, f.field) if f.agent and f.field else (
            Terminal(" ({})").format(f.agent or f.field) if f.agent or f.field else Terminal(""))
        lines.append(Terminal("{:<6} {:<10} {:<5} {}{}: {}").format(f.severity.upper(), f.kind, f.system, f.target,
                                                                     about, f.message))
        lines.append(Terminal("       fix: {}").format(f.fix))
    if report.findings:
        lines.append(Terminal(""))
    lines.append(Terminal("what was checked:"))
    width = max((len(c.scope) for c in report.checks), default=0)
    for check in report.checks:
        lines.append(Terminal("  {:<5} {:<{}}  {:<11}  {}").format(check.system, check.scope, width, check.outcome,
                                                                   check.detail))
    lines.append(Terminal("result: {} (exit {}), {} s").format(_RESULT[exit_code(report)], exit_code(report),
                                                             f"{report.seconds:.1f}"))
    return "\n".join(lines) + "\n"


def report_json(report: LiveReport) -> dict:
    def plain(finding: LiveFinding) -> dict:
        data = asdict(finding)
        data["kind"] = finding.kind.value
        return data

    return {"format": LIVE_FORMAT, "environment": report.environment, "vault_address": report.vault_address,
            "aws_endpoint": report.aws_endpoint, "now": report.now, "agents": report.agents,
            "complete": report.complete, "exit_code": exit_code(report), "counts": report.counts(),
            "findings": [plain(f) for f in report.findings],
            "checks": [{"system": c.system, "scope": c.scope, "outcome": c.outcome.value, "detail": c.detail}
                       for c in report.checks], "seconds": round(report.seconds, 3)}


def render_json(report: LiveReport) -> str:
    return json.dumps(report_json(report), indent=2, sort_keys=True) + "\n"


CSV_COLUMNS = ("kind", "severity", "system", "agent", "target", "field", "expected", "actual", "message", "fix")


def render_csv(report: LiveReport) -> str:
    """One row per finding (the checks are in the JSON and text reports)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.findings:
        values = {"kind": f.kind.value, "severity": f.severity, "system": f.system, "agent": f.agent or "",
                  "target": f.target, "field": f.field, "expected": f.expected or "", "actual": f.actual or "",
                  "message": f.message, "fix": f.fix}
        writer.writerow([csv_cell(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def render_markdown(report: LiveReport) -> str:
    lines: list[Markdown] = [Markdown("# agentiam inventory: live"), Markdown(""), _title(report, Markdown),
                             Markdown("")]
    if report.findings:
        lines += [Markdown("| severity | kind | system | agent | target | what | fix |"),
                  Markdown("|---|---|---|---|---|---|---|")]
        for f in report.findings:
            lines.append(table_row(Markdown("**{}**").format(f.severity) if f.severity == "high"
                                   else Markdown.value(f.severity), Markdown.value(f.kind),
                                   Markdown.value(f.system), Markdown.value(f.agent or ""), Markdown.value(f.target),
                                   Markdown.value(f.message), Markdown.value(f.fix)))
    else:
        lines.append(Markdown("Nothing undeclared, long-lived or drifted."))
    lines += [Markdown(""), Markdown("## What was checked"), Markdown(""), Markdown("| system | scope | outcome | "
                                                                                    "detail |"),
              Markdown("|---|---|---|---|")]
    for check in report.checks:
        outcome = (Markdown("**{}**").format(check.outcome) if check.outcome in (Outcome.FAILED, Outcome.NOT_CHECKED)
                   else Markdown.value(check.outcome))
        lines.append(table_row(Markdown.value(check.system), Markdown.value(check.scope), outcome,
                               Markdown.value(check.detail)))
    lines += [Markdown(""), Markdown("Result: {} (exit {}).").format(_RESULT[exit_code(report)], exit_code(report))]
    return document(lines)


# The formats of this module, by the name `--format` takes (agentiam.cli.common.format_option).
FORMATS = {"text": render_text, "json": render_json, "csv": render_csv, "markdown": render_markdown}
