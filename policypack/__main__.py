"""Entry point Pulumi runs for `--policy-pack policypack`: the agentiam policies over this project's stack configs.

Limits and names come from the agentiam package (`agentiam.crossguard.policies`); the secrets-engine principals
and audit devices from the stack configs in `stacks/` beside this folder, or the folder the `AGENTIAM_STACKS_DIR`
environment variable names. `AGENTIAM_SECRETS_ENGINE_PRINCIPALS` (comma-separated ARNs) adds principals for roles
of environments no stack config describes. Stack configs that cannot be read stop the pack with their findings:
judging roles against guessed principals would pass what it should refuse.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pulumi_policy import PolicyPack

from agentiam.crossguard.policies import PACK_NAME, build_policies
from agentiam.errors import UserError
from agentiam.project import load_environments

STACKS_DIR = Path(os.environ.get("AGENTIAM_STACKS_DIR") or Path(__file__).resolve().parent.parent / "stacks")
EXTRA_PRINCIPALS = [arn.strip() for arn in os.environ.get("AGENTIAM_SECRETS_ENGINE_PRINCIPALS", "").split(",")
                    if arn.strip()]

try:
    ENVIRONMENTS = load_environments(STACKS_DIR)
except UserError as exc:
    print(f"agentiam policy pack: cannot read the stack configs in {STACKS_DIR}:\n{exc}", file=sys.stderr)
    sys.exit(2)

PolicyPack(name=PACK_NAME, policies=build_policies(ENVIRONMENTS, EXTRA_PRINCIPALS))
