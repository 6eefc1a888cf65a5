"""The deploy pipeline's order: stacks owning an environment's shared resources first, then the other shards.

A shard's agents use the mounts, connections and boundaries its environment's owner stack creates, so the owner
is applied first (README: sharding). Each entry names the stack and its environment, whose GitHub environment
(`agentiam-<environment>`) holds the credentials and, for prod, the required reviewers.

    python -m agentiam.deploy.pipeline '["prod-1", "dev"]' [STACKS_DIR]   # the stacks a merge affects
    python -m agentiam.deploy.pipeline --all [STACKS_DIR]                 # every stack (the scheduled checks)

prints three `$GITHUB_OUTPUT` lines: `owners=[{"stack": ..., "environment": ...}, ...]`, `shards=[...]` and
`all=[...]` (both, owners first).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agentiam.environment.load import read_stacks
from agentiam.errors import UserError


def deploy_order(stacks: list[str] | None, stacks_dir: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(owners, shards) among `stacks` (None: every stack); UserError for a stack without a valid config."""
    loaded, findings = read_stacks(stacks_dir)
    if findings:
        raise UserError("; ".join(f.render() for f in findings))
    configs = {stack.stack: stack.config for stack in loaded}
    wanted = sorted(configs) if stacks is None else sorted(set(stacks))
    unknown = [s for s in wanted if s not in configs]
    if unknown:
        raise UserError(f"no stack config for {', '.join(unknown)} in {stacks_dir}")
    owners = [{"stack": s, "environment": configs[s].name} for s in wanted if configs[s].selection.shared_resources]
    shards = [{"stack": s, "environment": configs[s].name} for s in wanted
              if not configs[s].selection.shared_resources]
    return owners, shards


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python -m agentiam.deploy.pipeline (STACKS_JSON | --all) [STACKS_DIR]", file=sys.stderr)
        return 2
    stacks_dir = Path(args[1] if len(args) == 2 else "stacks")
    try:
        stacks = None if args[0] == "--all" else json.loads(args[0])
        if stacks is not None and not (isinstance(stacks, list) and all(isinstance(s, str) for s in stacks)):
            raise UserError(f"{args[0]!r}: expected a JSON list of stack names")
        owners, shards = deploy_order(stacks, stacks_dir)
    except (ValueError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("owners=" + json.dumps(owners))
    print("shards=" + json.dumps(shards))
    print("all=" + json.dumps(owners + shards))
    return 0


if __name__ == "__main__":
    sys.exit(main())
