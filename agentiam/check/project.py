"""The plans `check` and `compliance` judge against, with the specs they came from (for locations and edits).

Unlike `plan`, an expired spec does not stop the run (AGT004 is left out): an agent still used after its expiry is
exactly what `check` looks for. Every other error of a spec or stack config stops it, as for `plan`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from agentiam import project
from agentiam.environment.load import project_root, read_stacks
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Severity
from agentiam.plan.build import build_plan
from agentiam.plan.model import IdentityPlan
from agentiam.rules.registry import run_rules
from agentiam.spec.validate import LoadedSpec

# Judged by `check` itself (CHK030) rather than refused.
_NOT_BLOCKING = frozenset({"AGT004"})


@dataclass(frozen=True)
class Project:
    """Every stack's plan and every valid spec, keyed by the spec file each plan entry names."""

    plans: list[IdentityPlan]
    specs: dict[str, LoadedSpec]
    root: Path  # the project root (the folder holding the stacks folder)


def load_project(specs_dir: Path, stacks_dir: Path, environments: tuple[str, ...] = (),
                 today: dt.date | None = None) -> Project:
    """Plans of every stack (or of the stacks of `environments`), built as `plan` builds them."""
    stacks, findings = read_stacks(stacks_dir)
    if findings:
        raise ConfigError(findings=findings)
    configs = project.load_environments(stacks_dir)
    root = project_root(stacks_dir)
    specs, problems, _ = project.load_specs([specs_dir], root)
    problems += run_rules(specs, configs, today or dt.date.today())
    errors = [f for f in problems if f.severity is Severity.ERROR and f.rule_id not in _NOT_BLOCKING]
    if errors:
        raise SpecError(sorted(errors))
    known = sorted({stack.config.name for stack in stacks})
    unknown = sorted(set(environments) - set(known))
    if unknown:
        raise ConfigError(f"no stack config for environment(s) {', '.join(unknown)}; known: {', '.join(known)}")
    plans = [build_plan(specs, stack.config) for stack in sorted(stacks, key=lambda s: s.stack)
             if not environments or stack.config.name in environments]
    return Project(plans, {spec.file: spec for spec in specs}, root)
