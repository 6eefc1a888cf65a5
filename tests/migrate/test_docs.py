"""docs/migrate.md, offline parts: the spec example is a spec the tool accepts, the wave plans are what `agentiam
migrate plan` prints (on the bundled examples, and on a team whose declared waves break the order), the operator's
Vault policy is generated and the IAM actions are the ones the adapter calls. The status and revoke-legacy examples
come from tests/integration/test_migrate.py (real OpenBao and moto). After an intended change:
AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/migrate tests/integration/test_migrate.py"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.cli.migrate import EXIT_DONE, EXIT_KEPT
from agentiam.migrate.policy import AWS_ACTIONS, vault_policy
from agentiam.project import compile_plan
from tests.migrate.conftest import REPO, TODAY, spec
from tests.migrate.docs import console, section

NOW = "agentiam.cli.migrate.utcnow"

MIGRATION = """\
migration:
  wave: 1
  environments:
    prod:
      parallel_run_started: 2026-11-30T09:00:00Z
      note: the finance dashboards' shared reporting account
      legacy:
        iam_access_keys:
          - {id: AKIA3REPORTING0EXAMP, user: prod-reporting}
        iam_users: [prod-batch]
        vault_roles:
          - {mount: prod-legacy, role: shared-reporting}
        vault_tokens:
          - accessor: hq2yoPVaVHwW1fr9ZXAdcEdj
"""


def _team(wave_of: dict[str, int]) -> dict[str, str]:
    """A team moving off one shared IAM user: a read-only reporter and digest, an integration that sends data out."""
    def migration(name: str) -> str:
        return (f"migration:\n  wave: {wave_of[name]}\n  environments:\n    prod:\n      legacy:\n"
                "        iam_users: [prod-billing-shared]\n")

    integration = ("network:\n  egress:\n    - host: api.billing-partner.io\n      purpose: send the invoices\n"
                   "  vault_login_rate: {requests: 10, interval: 1m}\n")
    return {
        "invoice-reporter": spec("invoice-reporter", migration=MIGRATION.replace("wave: 1", "wave: 2")),
        "billing-digest": spec("billing-digest", migration=migration("billing-digest")),
        "billing-sync": spec("billing-sync", function="integration", migration=integration + migration(
            "billing-sync")),
        "uptime-monitor": spec("uptime-monitor", team="sre", function="monitoring",
                               migration=migration("uptime-monitor")),
    }


def _plan(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str, expect: int) -> str:
    import datetime as dt

    monkeypatch.chdir(root)
    monkeypatch.setattr(NOW, lambda: dt.datetime.combine(TODAY, dt.time(9), dt.timezone.utc))
    result = CliRunner().invoke(cli, ["migrate", "plan", *args])
    assert result.exit_code == expect, result.output
    return result.stdout


def test_the_spec_example_is_valid_and_shown(project_factory: Callable[[dict[str, str]], Path]) -> None:
    root = project_factory({"invoice-reporter": spec("invoice-reporter", migration=MIGRATION)})
    plan, _ = compile_plan("prod", root / "agent_specs", root / "stacks")
    (entry,) = [e for e in plan.agents if e.agent == "invoice-reporter"]
    assert entry.migration is not None and len(entry.migration.legacy) == 4
    section("migrate-spec", f"```yaml\n{MIGRATION}```\n")


def test_the_wave_plans_are_what_the_command_prints(project_factory: Callable[[dict[str, str]], Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    examples = _plan(REPO, monkeypatch, "--all", "--cap", "3", expect=EXIT_DONE)
    assert "wave 1" in examples and "payment-gateway-sync" in examples
    section("migrate-plan-examples", console("agentiam migrate plan --all --cap 3", examples))
    team = project_factory(_team({"billing-sync": 1, "billing-digest": 2, "invoice-reporter": 2,
                                  "uptime-monitor": 1}))
    flagged = _plan(team, monkeypatch, "--cap", "3", expect=EXIT_KEPT)
    assert "billing-sync (writes or reaches out" in flagged and "MIG001" in flagged
    section("migrate-plan-flagged", console("agentiam migrate plan --cap 3", flagged))


def test_the_operator_policy_is_generated(project_factory: Callable[[dict[str, str]], Path]) -> None:
    root = project_factory(_team({"billing-sync": 3, "billing-digest": 1, "invoice-reporter": 2,
                                  "uptime-monitor": 1}))
    plan, _ = compile_plan("prod", root / "agent_specs", root / "stacks")
    policy = vault_policy(plan)
    assert 'path "auth/prod-legacy/role/*"' in policy
    section("migrate-vault-policy", f"```hcl\n{policy}```\n")
    section("migrate-iam-actions", ", ".join(f"`{action}`" for action in AWS_ACTIONS) + "\n")


def test_the_documented_iam_actions_are_the_ones_the_adapter_calls() -> None:
    source = (REPO / "agentiam" / "migrate" / "aws_adapter.py").read_text(encoding="utf-8")
    assert {f"iam:{name}" for name in re.findall(r'"""iam:(\w+)', source)} == set(AWS_ACTIONS)
