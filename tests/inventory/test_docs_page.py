"""docs/inventory.md shows what the tool produces: the example block and the read-only Vault policy are produced here
(AGENTIAM_REGEN_GOLDEN=1 rewrites them), the IAM actions it lists are the ones the scan calls."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from agentiam.inventory.build import environment_plans
from agentiam.inventory.live import AWS_ACTIONS, inventory_policy
from agentiam.inventory.model import Inventory
from agentiam.render.inventory_text import entry_lines
from tests.docs import check_section, page
from tests.inventory.conftest import REPO, TODAY

PAGE = "docs/inventory.md"


def test_the_example_is_what_the_tool_prints(bundled: Inventory) -> None:
    entry = next(e for e in bundled.entries if (e.agent, e.environment) == ("payment-gateway-sync", "prod"))
    printed = "\n".join(str(line) for line in entry_lines(entry)) + "\n"
    check_section(PAGE, "inventory-example", f"```\n{printed}```\n")


def test_the_documented_vault_policy_is_generated() -> None:
    with contextlib.chdir(REPO):
        plan, _ = environment_plans(Path("agent_specs"), Path("stacks"), ["prod"], TODAY).plan("prod")
    check_section(PAGE, "inventory-policy", f"```hcl\n{inventory_policy(plan)}```\n")


def test_the_documented_iam_actions_are_the_ones_called() -> None:
    assert ", ".join(f"`{action}`" for action in AWS_ACTIONS) in page(PAGE)
    source = (REPO / "agentiam" / "inventory" / "aws_state.py").read_text(encoding="utf-8")
    called = {f"iam:{name}" for name in re.findall(r'"""iam:(\w+)', source) + re.findall(r"then iam:(\w+)", source)}
    assert called == set(AWS_ACTIONS)
