"""`agentiam inventory --live` against the real OpenBao and a moto server: a fleet in sync reports nothing; each
planted condition (undeclared identities, long-lived credentials, hand-made drift, a revoked agent re-enabled by a
later apply, a missing kill switch) is found with the fix to apply.

Worlds are provisioned from the real Pulumi program (`world_factory`: Vault side through `tests/vault_apply.py`, AWS
side through `tests/aws_apply.py`). OpenBao from PyPI has no AWS secrets engine (docs/facts.md#machines): a KV
version 1 mount at the engine's path serves each captured engine role as the engine's `GET <mount>/roles/<name>`
would, so the comparison is exercised (the engine itself is not). Each test module gets its own moto server: IAM
users are account-wide, and a planted one must not reach the fleet that is in sync. The module has its own OpenBao
too: tokens are server-wide, and the scan counts every one (tokens other modules leave would be reported here).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from agentiam.cli.main import cli
from agentiam.inventory.live import inventory_policy
from tests import servers
from tests.aws_apply import apply_aws
from tests.docs import check_transcript
from tests.integration.pki import TestCA
from tests.integration.conftest import worlds_on
from tests.integration.world import EXPIRES, World, reader_spec
from tests.render.github_markdown import render
from tests.vault_apply import AWS_SECRET_ROLE

S3_SPEC = textwrap.dedent(f"""\
    spec_version: 1
    name: NAME
    description: Integration-test agent reading invoices from S3.
    owner:
      team: billing-platform
      sponsor: maria.keller@example.com
      contact: "#billing-platform-oncall"
    function: data-retrieval
    environments: [ENV]
    status: STATUS
    expires: {EXPIRES}
    permissions:
      aws:
        - sid: read-invoices
          actions: [s3:GetObject]
          resources: ["arn:aws:s3:::billing-{{env}}-invoices/*"]
    """)


def s3_spec(name: str, status: str = "active") -> str:
    return S3_SPEC.replace("NAME", name).replace("STATUS", status)


@pytest.fixture(scope="module")
def world_factory(postgres: servers.PostgresServer, billing_table: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., World]]:
    """Worlds on this module's own OpenBao (see the module's docstring), not the session's."""
    with servers.run_openbao(tmp_path_factory.mktemp("openbao-inventory"), tls=True) as server, \
            worlds_on(server, postgres, tmp_path_factory) as make:
        yield make


def provision_aws(world: World, moto: servers.MotoServer) -> None:
    """What `pulumi up` creates on AWS (IAM roles, inline policies, boundaries) and the engine's roles on Vault."""
    apply_aws(boto3.client("iam", **moto.client_kwargs()), world.capture.resources)
    if "aws/" not in world.client.sys.list_mounted_secrets_engines()["data"]:
        world.client.sys.enable_secrets_engine("kv", path="aws", options={"version": "1"})
    for record in world.capture.resources:
        if record.type_token == AWS_SECRET_ROLE:
            inputs = record.inputs
            world.client.write_data(f"{inputs['backend']}/roles/{inputs['name']}", data={
                "credential_type": inputs["credentialType"], "role_arns": inputs["roleArns"],
                "default_sts_ttl": int(inputs["defaultStsTtl"]), "max_sts_ttl": int(inputs["maxStsTtl"])})


def inventory(world: World, moto: servers.MotoServer, *args: str, vault_addr: str | None = None,
              aws_endpoint: str | None = None, token: str | None = None, fmt: str = "json"
              ) -> tuple[Result, dict[str, Any]]:
    """Run `agentiam inventory --live` on the world; (result, the parsed report when `fmt` is json)."""
    env = {**moto.env, "VAULT_ADDR": vault_addr or world.server.address,
           "VAULT_TOKEN": token or world.server.root_token, "VAULT_CACERT": str(world.server.ca_cert_path)}
    result = CliRunner().invoke(cli, ["inventory", "--live", "--env", world.env, "--specs", str(world.specs_dir),
                                      "--stacks", str(world.stacks_dir), "--aws-endpoint-url",
                                      aws_endpoint or moto.endpoint_url, "--format", fmt, *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result, json.loads(result.stdout) if fmt == "json" and result.stdout.startswith("{") else {}


def _find(report: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    """The findings whose fields equal every one given."""
    return [f for f in report["findings"] if all(f[key] == value for key, value in match.items())]


# --- a fleet in sync ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_in_sync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    with servers.run_moto(tmp_path_factory.mktemp("moto-in-sync")) as server:
        yield server


@pytest.fixture(scope="module")
def in_sync(world_factory: Callable[[dict[str, str]], World], moto_in_sync: servers.MotoServer) -> World:
    world = world_factory({"ledger-reader": reader_spec("ledger-reader"),
                           "ledger-writer": reader_spec("ledger-writer", function="integration", access="write")
                           .replace("permissions:", "network:\n  egress:\n    - host: api.partner-bank.io\n"
                                    "      purpose: settlement files\n"
                                    "  vault_login_rate: {requests: 10, interval: 1m}\n"
                                    "permissions:"),
                           "invoice-reader": s3_spec("invoice-reader"),
                           "paused-reader": s3_spec("paused-reader", "suspended"),
                           "retired-reader": reader_spec("retired-reader", status="revoked")})
    provision_aws(world, moto_in_sync)
    return world


def test_a_fleet_in_sync_reports_nothing_and_exits_0(in_sync: World, moto_in_sync: servers.MotoServer) -> None:
    result, report = inventory(in_sync, moto_in_sync)
    assert result.exit_code == 0, result.output
    assert report["findings"] == []
    assert report["complete"] is True and report["agents"] == 5
    assert {c["outcome"] for c in report["checks"]} == {"checked"}
    scopes = {(c["system"], c["scope"]) for c in report["checks"]}
    assert ("vault", "tokens (every accessor)") in scopes and ("aws", "IAM users and access keys") in scopes
    # Progress on standard error, the report alone on standard output.
    assert "scanning AppRole roles: 5/5" in result.stderr and "scanning" not in result.stdout
    text, _ = inventory(in_sync, moto_in_sync, fmt="text")
    assert text.exit_code == 0
    assert "0 undeclared, 0 long-lived, 0 drifted" in text.stdout
    assert "result: in sync: nothing undeclared, long-lived or drifted (exit 0)" in text.stdout
    assert in_sync.server.root_token not in text.output + result.output


# --- planted conditions ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    with servers.run_moto(tmp_path_factory.mktemp("moto-planted")) as server:
        yield server


@pytest.fixture(scope="module")
def planted(world_factory: Callable[[dict[str, str]], World],
            moto_planted: servers.MotoServer) -> Iterator[tuple[World, dict[str, Any]]]:
    """A world provisioned in sync, then changed by hand the ways the issue names (and a few more)."""
    world = world_factory({"ledger-reader": reader_spec("ledger-reader"), "s3-reader": s3_spec("s3-reader"),
                           "retired-reader": reader_spec("retired-reader", status="revoked"),
                           "paused-reader": s3_spec("paused-reader", "suspended"),
                           "cutoff-reader": s3_spec("cutoff-reader"), "calm-reader": s3_spec("calm-reader")})
    provision_aws(world, moto_planted)
    vault, iam = world.client, boto3.client("iam", **moto_planted.client_kwargs())
    approle = world.agent("ledger-reader").vault.approle
    facts: dict[str, Any] = {}

    # `agentiam revoke` on an active spec, then `pulumi up` (the known gap): the entity is enabled again.
    revoked = CliRunner().invoke(cli, ["revoke", "cutoff-reader", "--env", world.env, "--yes", "--specs",
                                       str(world.specs_dir), "--stacks", str(world.stacks_dir), "--aws-endpoint-url",
                                       moto_planted.endpoint_url],
                                 env={**moto_planted.env, "VAULT_ADDR": world.server.address,
                                      "VAULT_TOKEN": world.server.root_token,
                                      "VAULT_CACERT": str(world.server.ca_cert_path)})
    assert revoked.exit_code == 0, revoked.output
    world.provision()  # the next apply of the unchanged (active) spec; the plants below come after it

    # An undeclared AppRole role, and an entity its logins resolve to.
    ghost = f"agent-{world.env}-ghost"
    vault.write_data(f"auth/{approle.mount}/role/{ghost}", data={"token_policies": ["default"], "token_ttl": 3600})
    ghost_role_id = vault.read(f"auth/{approle.mount}/role/{ghost}/role-id")["data"]["role_id"]
    vault.write_data("identity/entity/name/ghost-bot", data={"metadata": {"team": "unknown"}})
    ghost_entity = vault.read("identity/entity/name/ghost-bot")["data"]["id"]
    accessor = vault.sys.list_auth_methods()["data"][f"{approle.mount}/"]["accessor"]
    vault.write_data("identity/entity-alias", data={"name": ghost_role_id, "mount_accessor": accessor,
                                                    "canonical_id": ghost_entity})
    facts.update(ghost=ghost, ghost_entity=ghost_entity, ghost_role_id=ghost_role_id)
    # A token role named like the agents that no spec declares, and another team's (Vault's token mount is shared).
    vault.write_data(f"auth/token/roles/{ghost}-minter", data={"allowed_policies": ["default"], "orphan": True})
    vault.write_data("auth/token/roles/ci-deployer", data={"allowed_policies": ["default"]})

    # A role whose max TTL was raised by hand (and its secret ids made endless), then a secret id minted.
    path = f"auth/{approle.mount}/role/{approle.role_name}"
    vault.write_data(path, data={"token_max_ttl": 48 * 3600, "token_explicit_max_ttl": 48 * 3600,
                                 "secret_id_ttl": 0, "secret_id_num_uses": 0})
    facts["secret_id_accessor"] = vault.write_data(f"{path}/secret-id")["data"]["secret_id_accessor"]
    # The working token's ceiling raised by hand on its token role (Vault applies it to live tokens at renewal).
    token_role = world.agent("ledger-reader").vault.token_role.name
    vault.write_data(f"auth/token/roles/{token_role}", data={"token_explicit_max_ttl": 48 * 3600})

    # AWS: a boundary removed, a max session raised by hand.
    s3 = world.agent("s3-reader").aws
    iam.delete_role_permissions_boundary(RoleName=s3.role_name)
    iam.update_role(RoleName=s3.role_name, MaxSessionDuration=43200)

    # A revoked agent re-enabled by a later apply (an older revision, where it was active, applied again).
    vault.write_data(f"identity/entity/name/{world.agent('retired-reader').vault.entity.name}",
                     data={"disabled": False})
    # The kill switch missing on a suspended agent.
    paused = world.agent("paused-reader").aws
    iam.delete_role_policy(RoleName=paused.role_name, PolicyName=paused.kill_switch_policy_name)

    # An IAM user with an access key, used by automation, judged 100 days later.
    iam.create_user(UserName="etl-bot")
    key = iam.create_access_key(UserName="etl-bot")["AccessKey"]
    facts.update(key_id=key["AccessKeyId"], key_created=key["CreateDate"])
    return world, facts


@pytest.fixture(scope="module")
def planted_scans(planted: tuple[World, dict[str, Any]], moto_planted: servers.MotoServer
                  ) -> dict[str, tuple[Result, dict[str, Any]]]:
    """The planted world scanned (JSON, text, and JSON with the documented read-only policy), 100 days after the
    access key was made, while two long-lived tokens exist: one minted outside the login with an agent's policy,
    one for "automation". Tokens live on the shared OpenBao, so they exist only during these scans."""
    world, facts = planted
    vault = world.client
    agent_token = vault.auth.token.create(policies=[world.agent("ledger-reader").vault.policy_name], ttl="720h")
    automation = vault.auth.token.create(policies=["default"], ttl="800h", display_name="nightly-etl")
    facts.update(agent_token=agent_token["auth"]["accessor"], automation_token=automation["auth"]["accessor"])
    judged = ("--today", (facts["key_created"] + dt.timedelta(days=100)).date().isoformat())
    try:
        scans = {fmt: inventory(world, moto_planted, *judged, fmt=fmt) for fmt in ("json", "text", "csv", "markdown")}
        scans["policy"] = _with_policy(world, moto_planted, "agentiam-inventory", inventory_policy(world.plan),
                                       *judged)
        return scans
    finally:
        for token_accessor in (facts["agent_token"], facts["automation_token"]):
            vault.auth.token.revoke_accessor(token_accessor)


@pytest.fixture(scope="module")
def planted_report(planted_scans: dict[str, tuple[Result, dict[str, Any]]]) -> tuple[Result, dict[str, Any]]:
    return planted_scans["json"]


def test_planted_conditions_exit_1_and_the_scan_is_complete(planted_report: tuple[Result, dict[str, Any]]) -> None:
    result, report = planted_report
    assert result.exit_code == 1, result.output
    assert report["complete"] is True


def test_an_undeclared_approle_role_and_entity_are_found(planted: tuple[World, dict[str, Any]],
                                                         planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, facts = planted
    _, report = planted_report
    approle = world.agent("ledger-reader").vault.approle
    (role,) = _find(report, kind="undeclared", target=f"auth/{approle.mount}/role/{facts['ghost']}")
    assert role["severity"] == "high" and "no spec declares" in role["message"]
    assert f"vault delete auth/{approle.mount}/role/{facts['ghost']}" in role["fix"]
    (entity,) = _find(report, kind="undeclared", target=f"identity/entity/id/{facts['ghost_entity']}")
    assert f"has login aliases on auth/{approle.mount}/" in entity["message"]
    assert f"vault write identity/entity/id/{facts['ghost_entity']} disabled=true" in entity["fix"]
    assert facts["ghost_role_id"] not in json.dumps(report)  # a role id is a login factor: never printed


def test_a_max_ttl_raised_by_hand_is_found_as_long_lived_with_the_fix(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, facts = planted
    _, report = planted_report
    vault = world.agent("ledger-reader").vault
    approle = vault.approle
    path = f"auth/{approle.mount}/role/{approle.role_name}"
    by_field = {f["field"]: f for f in _find(report, target=path, agent="ledger-reader")}
    # The AppRole (mint) token's, planned at 1 minute ...
    for field in ("token_max_ttl", "token_explicit_max_ttl"):
        assert by_field[field]["kind"] == "long-lived" and by_field[field]["severity"] == "high"
        assert (by_field[field]["expected"], by_field[field]["actual"]) == ("60", str(48 * 3600))
        assert f"{field} is 48h, the plan says 1m" in by_field[field]["message"]
        assert f"pulumi up --refresh --stack {world.env}" in by_field[field]["fix"]
    # ... and the working token's, on its token role, planned at 2 hours.
    (role,) = _find(report, target=f"auth/token/roles/{vault.token_role.name}", agent="ledger-reader")
    assert (role["kind"], role["severity"], role["field"]) == ("long-lived", "high", "token_explicit_max_ttl")
    assert (role["expected"], role["actual"]) == ("7200", str(48 * 3600))
    assert "token_explicit_max_ttl is 48h, the plan says 2h" in role["message"]
    assert "secret_id_ttl is 0 (unlimited), the plan says 5m" in by_field["secret_id_ttl"]["message"]
    assert by_field["secret_id_num_uses"]["kind"] == "long-lived"
    (secret_id,) = _find(report, target=f"{path}/secret-id-accessor/{facts['secret_id_accessor']}")
    assert secret_id["kind"] == "long-lived" and "never expires and has unlimited uses" in secret_id["message"]
    assert f"secret_id_accessor={facts['secret_id_accessor']}" in secret_id["fix"]


def test_long_lived_tokens_are_found_the_scans_own_token_is_not(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, facts = planted
    _, report = planted_report
    (minted,) = _find(report, target=f"auth/token/accessors/{facts['agent_token']}")
    assert minted["kind"] == "undeclared" and minted["agent"] == "ledger-reader"
    assert "minted through auth/token/create, not the agent's certificate + secret login" in minted["message"]
    assert minted["fix"].startswith(f"vault token revoke -accessor {facts['agent_token']}")
    (automation,) = _find(report, target=f"auth/token/accessors/{facts['automation_token']}")
    # Asked for 800h, capped by the server's default max lease TTL (768h: docs/facts.md#vault-inventory-reads).
    assert automation["kind"] == "long-lived" and "was issued for 768h" in automation["message"]
    assert "'token-nightly-etl'" in automation["message"]
    own = world.client.lookup_token()["data"]["accessor"]
    assert not _find(report, target=f"auth/token/accessors/{own}")


def test_a_removed_boundary_and_a_raised_max_session_are_found(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, _ = planted
    _, report = planted_report
    role = world.agent("s3-reader").aws
    (boundary,) = _find(report, target=role.role_arn, field="permissions_boundary")
    assert (boundary["kind"], boundary["severity"]) == ("drifted", "high")
    assert "removed: nothing caps the role" in boundary["message"]
    assert (f"aws iam put-role-permissions-boundary --role-name {role.role_name} --permissions-boundary "
            f"{role.boundary_policy_arn}") in boundary["fix"]
    (session,) = _find(report, target=role.role_arn, field="max_session_duration")
    assert session["severity"] == "high" and "MaxSessionDuration is 12h, the plan says 1h" in session["message"]
    assert f"--max-session-duration {role.max_session_duration}" in session["fix"]


def test_a_revoked_agent_re_enabled_by_a_later_apply_is_found(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, _ = planted
    _, report = planted_report
    entity = world.agent("retired-reader").vault.entity.name
    (found,) = _find(report, target=f"identity/entity/name/{entity}", field="disabled")
    assert found["severity"] == "high" and "the entity is enabled, the spec says revoked" in found["message"]
    assert found["fix"].startswith(f"agentiam revoke retired-reader --env {world.env} now")


def test_revoke_then_apply_of_an_active_spec_is_found(planted: tuple[World, dict[str, Any]],
                                                      planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, _ = planted
    _, report = planted_report
    role = world.agent("cutoff-reader").aws
    (found,) = _find(report, target=role.role_arn, field=role.kill_switch_policy_name)
    assert found["severity"] == "high" and "agentiam revoke cut this agent off" in found["message"]
    assert "its spec still says active" in found["message"]
    assert "set `status: revoked` in" in found["fix"] and "cutoff-reader.yaml" in found["fix"]


def test_a_missing_kill_switch_on_a_suspended_agent_is_found(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, _ = planted
    _, report = planted_report
    role = world.agent("paused-reader").aws
    (found,) = _find(report, target=role.role_arn, field=role.kill_switch_policy_name)
    assert found["severity"] == "high" and "the kill switch of a suspended agent is missing" in found["message"]
    assert found["fix"].startswith(f"agentiam revoke paused-reader --env {world.env} now")


def test_an_old_access_key_is_found_with_its_age_and_last_use(
        planted: tuple[World, dict[str, Any]], planted_report: tuple[Result, dict[str, Any]]) -> None:
    _, facts = planted
    _, report = planted_report
    (key,) = _find(report, field="access_key")
    assert (key["kind"], key["severity"], key["actual"]) == ("long-lived", "high", facts["key_id"])
    assert f"access key {facts['key_id']} of IAM user etl-bot:" in key["message"]
    assert "day(s) old (over 90)" in key["message"]
    assert f"--access-key-id {facts['key_id']} --status Inactive" in key["fix"]


def test_nothing_else_is_reported(planted: tuple[World, dict[str, Any]],
                                  planted_report: tuple[Result, dict[str, Any]]) -> None:
    world, facts = planted
    _, report = planted_report
    approle = world.agent("ledger-reader").vault.approle
    expected = {
        ("undeclared", f"auth/{approle.mount}/role/{facts['ghost']}", ""),
        ("undeclared", f"identity/entity/id/{facts['ghost_entity']}", ""),
        ("undeclared", f"auth/token/roles/{facts['ghost']}-minter", ""),  # not ci-deployer: another team's
        ("long-lived", f"auth/{approle.mount}/role/{approle.role_name}", "token_max_ttl"),
        ("long-lived", f"auth/{approle.mount}/role/{approle.role_name}", "token_explicit_max_ttl"),
        ("long-lived", f"auth/{approle.mount}/role/{approle.role_name}", "secret_id_ttl"),
        ("long-lived", f"auth/{approle.mount}/role/{approle.role_name}", "secret_id_num_uses"),
        ("long-lived", f"auth/{approle.mount}/role/{approle.role_name}/secret-id-accessor/"
                       f"{facts['secret_id_accessor']}", "secret_id_ttl"),
        ("long-lived", f"auth/token/roles/{world.agent('ledger-reader').vault.token_role.name}",
                       "token_explicit_max_ttl"),
        ("undeclared", f"auth/token/accessors/{facts['agent_token']}", ""),
        ("long-lived", f"auth/token/accessors/{facts['automation_token']}", ""),
        ("drifted", world.agent("s3-reader").aws.role_arn, "permissions_boundary"),
        ("drifted", world.agent("s3-reader").aws.role_arn, "max_session_duration"),
        ("drifted", f"identity/entity/name/{world.agent('retired-reader').vault.entity.name}", "disabled"),
        ("drifted", world.agent("paused-reader").aws.role_arn, "agentiam-kill-switch"),
        ("drifted", world.agent("cutoff-reader").aws.role_arn, "agentiam-kill-switch"),
        ("long-lived", "arn:aws:iam::123456789012:user/etl-bot", "access_key"),
    }
    assert {(f["kind"], f["target"], f["field"]) for f in report["findings"]} == expected
    assert not _find(report, agent="calm-reader")


def test_the_text_report_names_each_finding_and_its_fix(
        planted_scans: dict[str, tuple[Result, dict[str, Any]]]) -> None:
    result, _ = planted_scans["text"]
    # docs/inventory.md shows this run's report: `pytest tests/integration/test_inventory_live.py -s`
    print(result.stdout)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "4 undeclared, 8 long-lived, 5 drifted" in lines[0]
    assert sum(line.startswith("       fix: ") for line in lines) == 17
    assert lines[-1].startswith("result: findings: something is undeclared, long-lived or drifted (exit 1)")
    check_transcript("docs/inventory.md", "inventory-live-report", result.stdout)  # only a run that passed


def test_csv_and_markdown_reports_carry_every_finding(
        planted_scans: dict[str, tuple[Result, dict[str, Any]]]) -> None:
    findings = planted_scans["json"][1]["findings"]
    csv_result, _ = planted_scans["csv"]
    rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert csv_result.exit_code == 1
    assert [(r["kind"], r["target"], r["field"], r["fix"]) for r in rows] == [
        (f["kind"], f["target"], f["field"], f["fix"]) for f in findings]
    page, _ = planted_scans["markdown"]
    assert page.exit_code == 1 and page.stdout.startswith("# agentiam inventory: live\n")
    rendered = render(page.stdout)
    assert rendered.count("tr") == 1 + len(findings) + 1 + 13  # two tables: findings, then the 13 parts checked
    assert rendered.links == () and rendered.comments == ()


def _with_policy(world: World, moto: servers.MotoServer, name: str, hcl: str, *args: str
                 ) -> tuple[Result, dict[str, Any]]:
    world.client.sys.create_or_update_acl_policy(name, hcl)
    token = world.client.auth.token.create(policies=[name], ttl="10m", no_default_policy=True)["auth"]
    try:
        return inventory(world, moto, *args, token=token["client_token"])
    finally:
        world.client.auth.token.revoke_accessor(token["accessor"])


def test_the_documented_read_only_policy_is_enough(planted: tuple[World, dict[str, Any]],
                                                   planted_scans: dict[str, tuple[Result, dict[str, Any]]]) -> None:
    world, _ = planted
    result, report = planted_scans["policy"]
    assert result.exit_code == 1, result.output
    assert report["complete"] is True
    # Scanning with its own token, the inventory now sees the root token the world was built with.
    root = f"auth/token/accessors/{world.client.lookup_token()['data']['accessor']}"
    (found,) = _find(report, target=root)
    assert found["kind"] == "long-lived" and found["message"].startswith("a root token (never expires")
    assert [f for f in report["findings"] if f["target"] != root] == planted_scans["json"][1]["findings"]


def test_a_token_that_may_not_read_everything_fails_those_parts_and_exits_2(
        planted: tuple[World, dict[str, Any]], moto_planted: servers.MotoServer) -> None:
    world, _ = planted
    hcl = inventory_policy(world.plan).replace('path "auth/token/accessors"', 'path "auth/token/not-accessors"')
    result, report = _with_policy(world, moto_planted, "agentiam-inventory-without-tokens", hcl)
    assert result.exit_code == 2, result.output
    checks = {c["scope"]: c for c in report["checks"]}
    assert checks["tokens (every accessor)"]["outcome"] == "FAILED"
    assert "auth/token/accessors: permission denied" in checks["tokens (every accessor)"]["detail"]
    assert {c["outcome"] for scope, c in checks.items() if scope != "tokens (every accessor)"} == {"checked"}
    assert report["complete"] is False and _find(report, kind="drifted")  # what was read is still reported
    text = CliRunner().invoke(cli, ["inventory", "--live", "--env", world.env, "--specs", str(world.specs_dir),
                                    "--stacks", str(world.stacks_dir), "--no-aws"],
                              env={"VAULT_ADDR": "https://127.0.0.1:1", "VAULT_TOKEN": "x"})
    assert text.exit_code == 2


# --- more drift: what else a hand can change ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_more(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MotoServer]:
    with servers.run_moto(tmp_path_factory.mktemp("moto-more")) as server:
        yield server


@pytest.fixture(scope="module")
def more(world_factory: Callable[[dict[str, str]], World], moto_more: servers.MotoServer
         ) -> tuple[World, dict[str, Any]]:
    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    world = world_factory({"alpha-reader": s3_spec("alpha-reader"), "beta-reader": s3_spec("beta-reader"),
                           "gamma-reader": reader_spec("gamma-reader"),
                           "stale-reader": reader_spec("stale-reader").replace(f"expires: {EXPIRES}",
                                                                               f"expires: {soon}")})
    provision_aws(world, moto_more)
    vault, iam = world.client, boto3.client("iam", **moto_more.client_kwargs())
    alpha, beta = world.agent("alpha-reader").aws, world.agent("beta-reader").aws
    # AWS: permissions added beside the plan's, a wider trust, a boundary edited, a deny-all on an active agent.
    extra = iam.create_policy(PolicyName=f"{world.env}-extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName=alpha.role_name, PolicyArn=extra["Policy"]["Arn"])
    iam.put_role_policy(RoleName=alpha.role_name, PolicyName="debugging", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    trust = json.loads(json.dumps(beta.trust_policy))
    trust["Statement"][0]["Principal"]["AWS"] = [trust["Statement"][0]["Principal"]["AWS"],
                                                 "arn:aws:iam::123456789012:root"]
    iam.update_assume_role_policy(RoleName=beta.role_name, PolicyDocument=json.dumps(trust))
    boundary = world.plan.platform.boundaries[0]
    widened = json.loads(json.dumps(boundary.policy))
    widened["Statement"].append({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    iam.create_policy_version(PolicyArn=boundary.policy_arn, PolicyDocument=json.dumps(widened), SetAsDefault=True)
    iam.put_role_policy(RoleName=beta.role_name, PolicyName=beta.kill_switch_policy_name,
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Sid": "AgentiamKillSwitch", "Effect": "Deny", "Action": "*", "Resource": "*"}]}))
    # Vault: the mount's lease ceiling raised, policies and an alias added to an entity, any role allowed on the
    # database connection, a leftover database role, a policy nobody declared, a periodic token.
    approle = world.agent("gamma-reader").vault.approle
    vault.write_data(f"sys/auth/{approle.mount}/tune", data={"max_lease_ttl": "768h",
                                                            "user_lockout_config": {"lockout_disable": False}})
    login_limit = next(m.login_rate_limit for m in world.plan.platform.mounts if m.login_rate_limit)
    vault.delete(f"sys/quotas/rate-limit/{login_limit.name}")
    cert = world.agent("gamma-reader").vault.cert  # trusts a CA nobody reviewed
    rogue = TestCA(world.root / "rogue-pki", f"{world.env} rogue CA")
    vault.write_data(f"auth/{cert.mount}/certs/{cert.role_name}", data={"certificate": rogue.pem})
    gamma = world.agent("gamma-reader").vault.entity
    vault.write_data(f"identity/entity/name/{gamma.name}", data={"policies": ["default"]})
    vault.sys.enable_auth_method("userpass", path=f"{world.env}-userpass")  # a human login, mapped to the agent
    userpass = vault.sys.list_auth_methods()["data"][f"{world.env}-userpass/"]["accessor"]
    vault.write_data("identity/entity-alias", data={"name": "ops-person", "mount_accessor": userpass,
                                                    "canonical_id": world.entity_id("gamma-reader")})
    connection = world.plan.platform.database_connections[0]
    config = vault.read(f"{connection.mount}/config/{connection.name}")["data"]
    vault.write_data(f"{connection.mount}/config/{connection.name}",
                     data={"allowed_roles": [*config["allowed_roles"], "*"], "verify_connection": False})
    leftover = f"{world.agent('gamma-reader').identity_name}-billing-write"
    vault.write_data(f"{connection.mount}/roles/{leftover}", data={
        "db_name": connection.name, "creation_statements": ["SELECT 1;"], "default_ttl": 3600, "max_ttl": 3600})
    vault.sys.create_or_update_acl_policy(f"agent-{world.env}-backdoor", 'path "secret/*" { capabilities = ["read"] }')
    return world, {"extra": extra["Policy"]["Arn"], "leftover": leftover, "soon": soon,
                   "boundary": boundary.policy_arn, "connection": f"{connection.mount}/config/{connection.name}",
                   "login_limit": login_limit.name}


def test_more_drift_each_found_and_nothing_else(more: tuple[World, dict[str, Any]],
                                                moto_more: servers.MotoServer) -> None:
    world, facts = more
    judged = (dt.date.fromisoformat(facts["soon"]) + dt.timedelta(days=5)).isoformat()
    # A periodic token (renews forever): only while this scan runs, on the shared OpenBao.
    facts["periodic"] = world.client.auth.token.create(policies=["default"], period="24h")["auth"]["accessor"]
    try:
        result, report = inventory(world, moto_more, "--today", judged)
    finally:
        world.client.auth.token.revoke_accessor(facts["periodic"])
    assert result.exit_code == 1, result.output
    alpha, beta = world.agent("alpha-reader").aws, world.agent("beta-reader").aws
    gamma = world.agent("gamma-reader")
    approle = gamma.vault.approle
    found = {(f["kind"], f["target"], f["field"]): f for f in report["findings"]}
    expected = {
        ("drifted", alpha.role_arn, "attached_policies"), ("drifted", alpha.role_arn, "inline_policies"),
        ("drifted", beta.role_arn, "trust_policy"), ("drifted", beta.role_arn, "agentiam-kill-switch"),
        ("drifted", facts["boundary"], "policy"),
        ("long-lived", f"sys/auth/{approle.mount}", "max_lease_ttl"),
        ("drifted", f"sys/auth/{approle.mount}", "user_lockout_disable"),
        ("drifted", f"sys/quotas/rate-limit/{facts['login_limit']}", ""),
        ("drifted", f"auth/{gamma.vault.cert.mount}/certs/{gamma.vault.cert.role_name}", "certificate"),
        ("drifted", f"identity/entity/name/{gamma.vault.entity.name}", "policies"),
        ("drifted", f"identity/entity/name/{gamma.vault.entity.name}", "aliases"),
        ("drifted", facts["connection"], "allowed_roles"),
        ("drifted", f"{gamma.vault.database_roles[0].mount}/roles/{facts['leftover']}", ""),
        ("undeclared", f"sys/policies/acl/agent-{world.env}-backdoor", ""),
        ("long-lived", f"auth/token/accessors/{facts['periodic']}", ""),
        ("drifted", f"identity/entity/name/{world.agent('stale-reader').vault.entity.name}", "expires"),
    }
    assert set(found) == expected, json.dumps(report["findings"], indent=1)
    assert found[("drifted", alpha.role_arn, "attached_policies")]["fix"] == (
        f"aws iam detach-role-policy --role-name {alpha.role_name} --policy-arn {facts['extra']}")
    assert found[("drifted", alpha.role_arn, "inline_policies")]["fix"] == (
        f"aws iam delete-role-policy --role-name {alpha.role_name} --policy-name debugging")
    assert "someone else may assume the role" in found[("drifted", beta.role_arn, "trust_policy")]["message"]
    switch = found[("drifted", beta.role_arn, "agentiam-kill-switch")]
    assert switch["severity"] == "medium" and "a deny-all kill switch is attached, the spec says active" in (
        switch["message"])
    assert "it caps every agent of the class" in found[("drifted", facts["boundary"], "policy")]["message"]
    assert "768h" in found[("long-lived", f"sys/auth/{approle.mount}", "max_lease_ttl")]["message"]
    alias = found[("drifted", f"identity/entity/name/{gamma.vault.entity.name}", "aliases")]
    assert f"alias ops-person on auth/{world.env}-userpass/ is not the plan's" in alias["message"]
    assert "that login also becomes this agent" in alias["message"]
    assert "roles the plan does not know can draw credentials" in found[
        ("drifted", facts["connection"], "allowed_roles")]["message"]
    assert "never expires" in found[("long-lived", f"auth/token/accessors/{facts['periodic']}", "")]["message"]
    stale = found[("drifted", f"identity/entity/name/{world.agent('stale-reader').vault.entity.name}", "expires")]
    assert f"the spec expired on {facts['soon']} and the identity is still enabled" in stale["message"]
    assert "AGT004" in result.stderr  # the expired spec is listed, not refused
    trust = found[("drifted", f"auth/{gamma.vault.cert.mount}/certs/{gamma.vault.cert.role_name}", "certificate")]
    assert trust["severity"] == "high" and "the role trusts another CA than the plan's" in trust["message"]
    assert "logins are not limited per address" in found[
        ("drifted", f"sys/quotas/rate-limit/{facts['login_limit']}", "")]["message"]
