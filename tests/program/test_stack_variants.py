"""Program tests over other inputs: invalid specs, suspended agents, secrets, isolation, sharding, audit via API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.plan.build import KILL_SWITCH_POLICY
from tests.program.conftest import stack_run
from tests.program.fleet import write_fleet
from tests.pulumi_capture import PROJECT_DIR, ProgramError, capture_stack, mount_accessor

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}


def _copy_specs(tmp_path: Path) -> Path:
    specs = tmp_path / "agent_specs"
    shutil.copytree(PROJECT_DIR / "agent_specs", specs)
    return specs


def test_invalid_spec_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    specs = _copy_specs(tmp_path)
    broken = (specs / "billing" / "invoice-reader.yaml").read_text(encoding="utf-8")
    broken = broken.replace("name: invoice-reader", "name: broken-reader").replace("token_max_ttl: 24h",
                                                                                  "token_max_ttl: 48h")
    (specs / "billing" / "broken-reader.yaml").write_text(broken, encoding="utf-8")

    with pytest.raises(ProgramError) as failure:
        capture_stack("dev", specs_dir=specs)

    assert failure.value.resources == []
    validate = CliRunner().invoke(cli, ["validate", str(specs), "--stacks", str(PROJECT_DIR / "stacks")])
    assert validate.exit_code == 1
    error_lines = [line for line in validate.output.splitlines() if "broken-reader.yaml:" in line]
    assert error_lines
    message_lines = failure.value.message.splitlines()
    assert message_lines[0] == "invalid agent specs, nothing was provisioned:"
    assert message_lines[1:] == error_lines  # the same `file:line:col RULE message` lines as `agentiam validate`


def test_suspended_and_revoked_agents_get_the_kill_switch_and_a_disabled_entity(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    suspended = write_fleet(specs, 2, status="suspended", prefix="paused")
    revoked = write_fleet(specs, 2, status="revoked", prefix="gone")
    active = write_fleet(specs, 1, prefix="working")
    capture = capture_stack("staging", specs_dir=specs)

    for agent in suspended + revoked + active:
        name = f"agent-staging-{agent}"
        identity = capture.get("agentiam:index:AgentIdentity", name)
        below = {(r.type_token, r.name): r.inputs for r in capture.descendants(identity.urn)}
        kill = below.get(("aws:iam/rolePolicy:RolePolicy", f"{name}-aws-kill-switch"))
        entity = below[("vault:identity/entity:Entity", f"{name}-vault-entity")]
        types = {t for t, _ in below}
        if agent in active:
            assert kill is None
            assert entity["disabled"] is False
            assert "vault:database/secretBackendRole:SecretBackendRole" in types
            continue
        assert kill["name"] == "agentiam-kill-switch"  # the same name `agentiam revoke` uses
        assert json.loads(kill["policy"]) == KILL_SWITCH_POLICY
        assert entity["disabled"] is True
        assert capture.outputs["agents"][agent]["status"] in {"suspended", "revoked"}
        # No credential source is left: no dynamic secrets, no AWS credentials, no way to mint a secret id.
        assert "vault:database/secretBackendRole:SecretBackendRole" not in types
        assert "vault:aws/secretBackendRole:SecretBackendRole" not in types
        login = below[("vault:index/policy:Policy", f"{name}-vault-login-policy")]["policy"]
        assert "secret-id" not in login


def test_credentials_are_secret_in_outputs_and_inputs() -> None:
    capture = stack_run("dev").capture
    assert capture.secret_outputs == {"approle_role_ids"}
    role_ids = set(capture.outputs["approle_role_ids"].values())
    assert role_ids and all(role_ids)
    public = json.dumps({k: v for k, v in capture.outputs.items() if k not in capture.secret_outputs})
    assert not any(role_id in public for role_id in role_ids)
    for record in capture.resources:
        visible = json.dumps({k: v for k, v in record.inputs.items() if k not in record.secret_inputs})
        assert "test-billingDbPassword" not in visible and "test-analyticsDbPassword" not in visible


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_lower_stacks_never_reference_another_environments_account(stack: str) -> None:
    capture = stack_run(stack).capture
    everything = json.dumps([r.inputs for r in capture.resources]) + json.dumps(capture.outputs)
    assert ACCOUNTS[stack] in everything
    for other, account in ACCOUNTS.items():
        if other != stack:
            assert account not in everything
            assert f"agentiam-{other}" not in everything and f"agent-{other}-" not in everything


def test_two_shards_partition_the_agents_and_one_owns_the_shared_resources(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    agents = write_fleet(specs, 12, environments=("prod",))
    stacks = tmp_path / "stacks"  # the example adopted as the README says: its files in place of Pulumi.prod.yaml
    shutil.copytree(PROJECT_DIR / "stacks" / "ca", stacks / "ca")
    for config in (PROJECT_DIR / "stacks" / "sharded-example").glob("Pulumi.*.yaml"):
        shutil.copy(config, stacks)
    shards = [capture_stack(f"prod-{i}", specs_dir=specs, stacks_dir=stacks) for i in (0, 1)]

    names = [{r.name for r in s.of_type("agentiam:index:AgentIdentity")} for s in shards]
    assert names[0] and names[1] and not names[0] & names[1]
    assert names[0] | names[1] == {f"agent-prod-{a}" for a in agents}

    owner, other = shards
    assert owner.outputs["shared_resources"] is True and other.outputs["shared_resources"] is False
    shared_types = {"agentiam:index:Platform", "vault:index/authBackend:AuthBackend", "vault:index/mount:Mount",
                    "aws:iam/policy:Policy", "aws:cloudwatch/logGroup:LogGroup",
                    "vault:database/secretBackendConnection:SecretBackendConnection"}
    assert shared_types <= {r.type_token for r in owner.resources}
    assert not shared_types & {r.type_token for r in other.resources}
    assert "vault_audit_config_block" not in other.outputs
    # The shard looks the owner's mounts up by path: its aliases hang on the same accessors; every stack looks
    # Vault's own token mount up (none creates it).
    owner_accessors = {r.inputs["path"]: mount_accessor(r.inputs["path"])
                       for r in owner.of_type("vault:index/authBackend:AuthBackend")}
    owner_accessors["token"] = mount_accessor("token")
    for alias in other.of_type("vault:identity/entityAlias:EntityAlias"):
        assert alias.inputs["mountAccessor"] in owner_accessors.values()
    # Boundaries cover every function class in the environment, including the other shard's agents.
    boundaries = {r.inputs["name"] for r in owner.of_type("aws:iam/policy:Policy")}
    for role in other.of_type("aws:iam/role:Role"):
        assert role.inputs["permissionsBoundary"].rsplit("/", 1)[1] in boundaries


def test_api_managed_audit_device_is_registered_instead_of_exported(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(PROJECT_DIR / "stacks", stacks)
    config = stacks / "Pulumi.dev.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("api_managed: false", "api_managed: true"),
                      encoding="utf-8")
    capture = capture_stack("dev", stacks_dir=stacks)
    (audit,) = capture.of_type("vault:index/audit:Audit")
    assert audit.inputs == {"path": "agentiam-file", "type": "file",
                            "options": {"file_path": "/var/log/vault/agentiam-dev-audit.log", "format": "json",
                                        "hmac_accessor": "true", "log_raw": "false"}}
    assert "vault_audit_config_block" not in capture.outputs


def test_missing_agent_ca_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(PROJECT_DIR / "stacks", stacks)
    config = stacks / "Pulumi.dev.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("stacks/ca/dev-agents-ca.pem",
                                                                 "stacks/ca/missing.pem"), encoding="utf-8")
    with pytest.raises(ProgramError) as failure:
        capture_stack("dev", stacks_dir=stacks)
    assert failure.value.resources == []
    assert failure.value.message == (  # the finding `agentiam validate` shows, on the field naming the file
        f"invalid stack config, nothing was provisioned:\n{config}:19:26  error  CFG003  vault.agent_ca_pem_file: "
        "cannot read stacks/ca/missing.pem: No such file or directory")


def test_repeated_runs_in_one_process_register_the_same_resources() -> None:
    first, second = capture_stack("dev"), capture_stack("dev")
    # Registration order depends on thread scheduling; the set of registrations and their inputs must not.
    assert sorted((r.type_token, r.name, json.dumps(r.inputs, sort_keys=True), r.parent) for r in first.resources) \
        == sorted((r.type_token, r.name, json.dumps(r.inputs, sort_keys=True), r.parent) for r in second.resources)
    assert first.outputs == second.outputs
