"""Pulumi program: provision every agent identity of this stack exactly as `agentiam plan --env <stack>` shows it.

Reads `stacks/Pulumi.<stack>.yaml` through the core (no Pulumi involved), validates every spec under
`agent_specs/` and stops before registering any resource if one is invalid. `AGENTIAM_SPECS_DIR` and
`AGENTIAM_STACKS_DIR` point the program at other folders (tests, benchmarks). The default folders are relative to
the project directory, the working directory Pulumi runs programs in; files a stack config references (the agent
CA) are relative to the folder holding the stacks folder, exactly as for `agentiam plan`, and are read once, into
the plan: the program deploys the plan's bytes and reads no file itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from agentiam import project
from agentiam.errors import ConfigError, SpecError
from components.stack import provision


def _folder(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default)


def main() -> None:
    """Validate, plan, provision, export."""
    specs_dir = _folder("AGENTIAM_SPECS_DIR", project.DEFAULT_SPECS_DIR)
    stacks_dir = _folder("AGENTIAM_STACKS_DIR", project.DEFAULT_STACKS_DIR)
    try:
        plan, warnings = project.compile_plan(pulumi.get_stack(), specs_dir, stacks_dir)
    except SpecError as exc:
        # Same lines as `agentiam validate`; raised before any resource exists, so nothing is half-applied.
        raise pulumi.RunError("invalid agent specs, nothing was provisioned:\n"
                              + "\n".join(f.render() for f in exc.findings)) from exc
    except ConfigError as exc:
        raise pulumi.RunError(f"invalid stack config, nothing was provisioned:\n{exc}") from exc
    for warning in warnings:
        pulumi.log.warn(warning.render())

    config = pulumi.Config()
    # Only the stack owning the database connections needs (and may read) the passwords.
    passwords = {c.password_secret: config.require_secret(c.password_secret)
                 for c in plan.platform.database_connections} if plan.shared_resources else {}
    for name, value in provision(plan, passwords).items():
        pulumi.export(name, value)


main()
