"""Program tests: what a real `pulumi up` needs beyond the inputs, read against the real providers and servers.

Dependencies where a resource names another by text, `protect` and `delete_before_replace` where a provider would
lose data, the Vault provider's token sized for the stack, session tags only where the server sends them, IAM-safe
tag values (docs/deploy.md, "What the program does for a real up").
"""

from __future__ import annotations

import re

from tests.program.conftest import StackRun
from tests.pulumi_capture import ResourceRecord

AUTH_BACKEND = "vault:index/authBackend:AuthBackend"
MOUNT = "vault:index/mount:Mount"
AUDIT = "vault:index/audit:Audit"
PROVIDER = "pulumi:providers:vault"
# Types whose replacement must delete the old resource first: a field forcing the replacement is not part of the
# path Vault / AWS writes to, so a replacement created first is overwritten-then-deleted (roles, quotas, filters)
# or refused (mounts, audit devices on a path in use). Sources in components/ next to each option.
DELETE_FIRST = {
    AUTH_BACKEND: "type forces a new mount on the same path",
    MOUNT: "type forces a new mount on the same path",
    AUDIT: "every field forces a new device on the same path",
    "vault:index/certAuthBackendRole:CertAuthBackendRole": "certificate (the agent CA) forces a new role, same path",
    "vault:aws/secretBackendRole:SecretBackendRole": "role_arns force a new role, same path",
    "vault:index/quotaRateLimit:QuotaRateLimit": "path forces a new quota; same path and role refused",
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": "destination forces a new filter, same name",
}
PROTECTED = {AUTH_BACKEND, MOUNT, AUDIT}
# IAM tag values (IAM user guide, "Tagging IAM resources"): letters, numbers, spaces and _ . : / = + - @, <= 256.
IAM_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")


def _custom(run: StackRun) -> list[ResourceRecord]:
    return [r for r in run.capture.resources if r.custom and not r.type_token.startswith("pulumi:providers:")]


def test_a_resource_naming_a_mount_by_text_waits_for_it(run: StackRun) -> None:
    """Any input naming a mount the stack creates (its path, `auth/<path>/...`, `sys/auth/<path>/...`) comes with a
    dependency on that mount: on a first `up` Vault refuses a quota, role or setting on a mount not there yet."""
    capture = run.capture
    mounts = {r.inputs["path"]: r.urn for r in capture.of_type(AUTH_BACKEND) + capture.of_type(MOUNT)}
    assert mounts, "the owner stack creates mounts"
    checked = 0
    for record in _custom(run):
        if record.type_token in (AUTH_BACKEND, MOUNT) or not record.type_token.startswith("vault:"):
            continue
        for value in _strings(record.inputs):
            for path, urn in mounts.items():
                if value == path or value.startswith((f"{path}/", f"auth/{path}/", f"sys/auth/{path}/")):
                    checked += 1
                    assert urn in record.dependencies, f"{record.name} names {value!r} but does not wait for {path}"
    assert checked > len(run.plan.agents)  # every agent's roles, plus the platform's quota and lockout setting


def test_an_aws_secrets_engine_role_waits_for_the_iam_role_it_names(run: StackRun) -> None:
    capture = run.capture
    roles = {f"arn:aws:iam::{run.plan.account_id}:role{r.inputs['path']}{r.inputs['name']}": r.urn
             for r in capture.of_type("aws:iam/role:Role")}
    engine_roles = capture.of_type("vault:aws/secretBackendRole:SecretBackendRole")
    assert engine_roles
    for record in engine_roles:
        (arn,) = record.inputs["roleArns"]
        assert roles[arn] in record.dependencies


def test_an_agent_rate_limit_waits_for_its_approle_role(run: StackRun) -> None:
    roles = {r.inputs["roleName"]: r.urn for r in run.capture.of_type("vault:appRole/authBackendRole:AuthBackendRole")}
    quotas = [r for r in run.capture.of_type("vault:index/quotaRateLimit:QuotaRateLimit") if r.inputs.get("role")]
    assert quotas
    for quota in quotas:
        assert roles[quota.inputs["role"]] in quota.dependencies


def test_replacements_that_would_lose_data_delete_first_and_platform_mounts_are_protected(run: StackRun) -> None:
    seen = set()
    for record in _custom(run):
        options = record.options
        if record.type_token in DELETE_FIRST:
            seen.add(record.type_token)
            assert options.get("deleteBeforeReplace") is True, f"{record.name}: {DELETE_FIRST[record.type_token]}"
        else:
            assert not options.get("deleteBeforeReplace"), record.name
        assert bool(options.get("protect")) == (record.type_token in PROTECTED), record.name
    expected = set(DELETE_FIRST) - ({AUDIT} if not run.plan.platform.log_routing.audit.api_managed else set())
    assert seen == expected


def test_every_vault_resource_uses_the_programs_provider_sized_for_the_stack(run: StackRun) -> None:
    (provider,) = run.capture.of_type(PROVIDER)
    # Provider inputs reach the engine JSON-encoded.
    assert provider.inputs == {"maxLeaseTtlSeconds": str(run.plan.deploy.vault_token_ttl), "maxRetries": "2",
                               "skipTlsVerify": "false"}
    vault_resources = [r for r in _custom(run) if r.type_token.startswith("vault:")]
    assert vault_resources
    for record in vault_resources:
        assert record.options["provider"].startswith(provider.urn + "::"), record.name


def test_the_token_lifetime_covers_every_registered_resource(run: StackRun) -> None:
    deploy = run.plan.deploy
    assert deploy.resources == len(_custom(run))
    assert deploy.vault_token_ttl >= 1200 + 3 * deploy.resources  # 20 min (provider default) + 3 s per resource
    assert deploy.vault_token_ttl % 1800 == 0 and deploy.vault_token_ttl <= 86400


def test_session_tags_and_trust_conditions_follow_what_the_server_sends(run: StackRun) -> None:
    tags = run.plan.platform.vault_server.aws_session_tags
    assert tags == (run.environment.vault.flavor == "hashicorp")  # prod: Vault 1.18.3; dev, staging: OpenBao
    roles = {r.inputs["name"]: r for r in run.capture.of_type("vault:aws/secretBackendRole:SecretBackendRole")}
    for record in run.capture.of_type("aws:iam/role:Role"):
        trust = record.inputs["assumeRolePolicy"]
        assert "SourceIdentity" not in trust  # no Vault sets one: such a statement would constrain nothing
        engine_role = roles.get(record.inputs["name"])
        if tags:
            assert "sts:TagSession" in trust and "aws:RequestTag/agentiam-agent" in trust
            if engine_role is not None:
                assert engine_role.inputs["sessionTags"]["agentiam-agent"] == record.inputs["tags"]["agentiam:agent"]
        else:
            # A condition the server can never meet would refuse every credential read.
            assert "TagSession" not in trust and "RequestTag" not in trust
            assert engine_role is None or "sessionTags" not in engine_role.inputs


def test_every_aws_tag_value_is_one_iam_accepts(run: StackRun) -> None:
    tagged = [r for r in _custom(run) if r.type_token.startswith("aws:") and r.inputs.get("tags")]
    assert tagged
    for record in tagged:
        for key, value in record.inputs["tags"].items():
            assert IAM_TAG_VALUE.match(value), f"{record.name} tag {key}={value!r}"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
