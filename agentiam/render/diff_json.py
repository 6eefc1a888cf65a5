"""The diff as JSON for machines: the diff model as it is, with a format version."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from agentiam.diff.model import Change, CodeDiff, DiffReport

DIFF_FORMAT = 2  # 2: `environments`, per-agent `notes`, `rest_lookups`


def _change(change: Change) -> dict[str, Any]:
    data = asdict(change)
    data["direction"] = change.direction.value
    data["risks"] = [asdict(r) for r in change.risks]
    data["high_risk"] = change.high_risk
    return data


def _code(code: CodeDiff | None) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"files": list(code.files), "gate_files": list(code.gate_files), "compared": list(code.compared),
            "verdict": code.verdict.value, "changes": [_change(c) for c in code.general],
            "stacks": [{"stack": s.stack, "environment": s.environment, "changes": [_change(c) for c in s.changes]}
                       for s in code.stacks]}


def report_dict(report: DiffReport) -> dict[str, Any]:
    """Plain data of the whole report (stable key order)."""
    return {
        "format": DIFF_FORMAT,
        "base": report.base,
        "head": report.head,
        "changed_spec_files": report.changed_spec_files,
        "changed_stack_files": report.changed_stack_files,
        "specs_compiled": report.specs_compiled,
        "catalogue_version": report.catalogue_version,
        "verdicts": {v.value: n for v, n in report.verdict_counts().items()},
        "agents": [{"agent": a.agent, "environment": a.environment, "kind": a.kind, "file": a.file,
                    "verdict": a.verdict.value, "changes": [_change(c) for c in a.changes],
                    "findings": [f.as_dict() for f in a.findings], "notes": list(a.notes)} for a in report.agents],
        "environments": [{"environment": e.environment, "verdict": e.verdict.value, "compiled": e.compiled,
                          "stack_files": list(e.stack_files), "changes": [_change(c) for c in e.changes]}
                         for e in report.environments],
        "rest_lookups": report.rest_lookups,
        "code": _code(report.code),
        "findings": [f.as_dict() for f in report.findings],
        "notes": report.notes,
    }


def render_json(report: DiffReport) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=True) + "\n"


FORMATS = {"json": render_json}  # by the name `--format` takes
