"""The README's inventory section shows what the tool produces: the example block, the read-only Vault policy and the
IAM actions are checked against the code."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from agentiam.inventory.build import environment_plans
from agentiam.inventory.live import AWS_ACTIONS, inventory_policy
from agentiam.inventory.model import Inventory
from agentiam.render.inventory_text import entry_lines
from tests.inventory.conftest import REPO, TODAY


def _section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("<!-- section:inventory -->"):readme.index("<!-- /section:inventory -->")]


def _block(marker: str) -> str:
    section = _section()
    block = section[section.index(f"<!-- {marker} -->\n"):section.index(f"<!-- /{marker} -->")]
    return re.search(r"```[a-z]*\n(.*?)```", block, re.S).group(1)


def test_the_example_is_what_the_tool_prints(bundled: Inventory) -> None:
    entry = next(e for e in bundled.entries if (e.agent, e.environment) == ("payment-gateway-sync", "prod"))
    assert _block("inventory-example") == "\n".join(str(line) for line in entry_lines(entry)) + "\n"


def test_the_documented_vault_policy_is_generated() -> None:
    with contextlib.chdir(REPO):
        plan, _ = environment_plans(Path("agent_specs"), Path("stacks"), ["prod"], TODAY).plan("prod")
    assert _block("inventory-policy") == inventory_policy(plan)


def test_the_documented_iam_actions_are_the_ones_called() -> None:
    assert ", ".join(f"`{action}`" for action in AWS_ACTIONS) in _section()
    source = (REPO / "agentiam" / "inventory" / "aws_state.py").read_text(encoding="utf-8")
    called = {f"iam:{name}" for name in re.findall(r'"""iam:(\w+)', source) + re.findall(r"then iam:(\w+)", source)}
    assert called == set(AWS_ACTIONS)
