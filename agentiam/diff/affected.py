"""Which Pulumi stacks a diff affects, for `pulumi preview`: stack names, not environment names.

A diff speaks of environments (`prod`); Pulumi runs stacks (`stacks/Pulumi.<stack>.yaml`). They coincide until an
environment is sharded (`prod-0`, `prod-1`, each `name: prod`): then a preview of stack `prod` would fail, and
the change must be previewed in the shard(s) that provision the agent. The shard is a hash of the agent's name
(`agentiam.plan.build.in_shard`, as the plan selects it); a team filter is not applied (the diff JSON has no
owner, and an agent changing team moves between stacks), so such stacks are previewed conservatively.

    python -m agentiam.diff.affected agentiam-diff.json [stacks]   # prints `stacks=["prod-1"]` (GitHub output)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentiam.diff.model import Verdict
from agentiam.environment.load import load_environment, stack_names
from agentiam.errors import UserError
from agentiam.plan.build import in_shard

NO_CHANGE = Verdict.NO_CHANGE.value


def affected_stacks(report: Mapping[str, Any], stacks_dir: Path) -> list[str]:
    """Stacks (config files present in `stacks_dir`) that a diff report (`agentiam diff --format json`) touches.

    A stack is affected if its config changed, if it owns the environment-wide resources of an environment
    with an environment-wide change (any shard of it, for a trust change such as the agent CA), or if it
    provisions an agent whose plan changed in its environment (the agent's shard of that environment). A change of agentiam's own code (`code.files`) may change every stack.
    """
    configs = {stack: load_environment(stacks_dir, stack) for stack in stack_names(stacks_dir)}
    if (report.get("code") or {}).get("files"):
        return sorted(configs)
    changed_files = {Path(path).name for path in report.get("changed_stack_files", [])}
    wanted = {stack for stack in configs if f"Pulumi.{stack}.yaml" in changed_files}
    # Environment-wide resources (mounts, boundaries, log routing...) live in the stack that owns them; a trust
    # change (the agent CA every cert role of every shard carries) reaches every shard of the environment.
    changed = [e for e in report.get("environments", []) if e["verdict"] != NO_CHANGE]
    environments = {e["environment"] for e in changed}
    everywhere = {e["environment"] for e in changed if any(c["system"] == "trust" for c in e["changes"])}
    wanted |= {stack for stack, config in configs.items()
               if config.name in everywhere or (config.name in environments and config.selection.shared_resources)}
    for agent in report.get("agents", []):
        if agent["verdict"] == NO_CHANGE:
            continue
        for stack, config in configs.items():
            if config.name == agent["environment"] and in_shard(agent["agent"], config):
                wanted.add(stack)
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    """Print `stacks=<JSON list>` for `$GITHUB_OUTPUT`; an absent report (the diff refused its input) is `[]`."""
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python -m agentiam.diff.affected DIFF_JSON [STACKS_DIR]", file=sys.stderr)
        return 2
    report_path, stacks_dir = Path(args[0]), Path(args[1] if len(args) == 2 else "stacks")
    try:
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
        stacks = affected_stacks(report, stacks_dir) if report else []
    except KeyError as exc:
        print(f"error: {report_path}: not an `agentiam diff --format json` report (no {exc} key)", file=sys.stderr)
        return 2
    except (OSError, ValueError, UserError) as exc:
        print(f"error: {report_path}: {exc}", file=sys.stderr)
        return 2
    print("stacks=" + json.dumps(stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
