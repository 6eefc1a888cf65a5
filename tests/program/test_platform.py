"""Program tests: environment-wide resources of the stack that owns them (mounts, connections, boundaries, logs)."""

from __future__ import annotations

import json

from tests.program.conftest import StackRun

DAY = 86400


def test_auth_mounts_cap_leases_at_24h(run: StackRun) -> None:
    mounts = {r.inputs["type"]: r.inputs for r in run.capture.of_type("vault:index/authBackend:AuthBackend")}
    vault = run.environment.vault
    assert mounts["approle"]["path"] == vault.approle_mount
    assert mounts["cert"]["path"] == vault.cert_mount
    for mount in mounts.values():
        # Server-side ceiling: a role's max TTL is silently capped by the mount's max_lease_ttl (FACTS.md).
        assert mount["tune"]["maxLeaseTtl"] == f"{DAY}s"
    (database,) = run.capture.of_type("vault:index/mount:Mount")
    assert database.inputs["type"] == "database"
    assert database.inputs["path"] == vault.database_mount
    assert database.inputs["maxLeaseTtlSeconds"] == DAY


def test_database_connections_take_the_secret_password(run: StackRun) -> None:
    connections = {r.inputs["name"]: r for r in
                   run.capture.of_type("vault:database/secretBackendConnection:SecretBackendConnection")}
    assert set(connections) == set(run.environment.databases)
    by_name = {c.name: c for c in run.plan.platform.database_connections}
    for name, record in connections.items():
        config = run.environment.databases[name]
        assert record.inputs["pluginName"] == "postgresql-database-plugin"
        assert record.inputs["backend"] == run.environment.vault.database_mount
        assert record.inputs["allowedRoles"] == by_name[name].allowed_roles
        assert record.inputs["postgresql"] == {"connectionUrl": config.connection_url, "username": config.username,
                                               "password": f"test-{config.password_secret}"}
        assert "postgresql" in record.secret_inputs  # the password travels as a Pulumi secret


def test_allowed_roles_are_the_agents_database_roles(run: StackRun) -> None:
    connections = {r.inputs["name"]: r.inputs for r in
                   run.capture.of_type("vault:database/secretBackendConnection:SecretBackendConnection")}
    roles = {}
    for record in run.capture.of_type("vault:database/secretBackendRole:SecretBackendRole"):
        roles.setdefault(record.inputs["dbName"], set()).add(record.inputs["name"])
    for name, inputs in connections.items():
        assert set(inputs["allowedRoles"]) == roles.get(name, set())


def test_log_routing_follows_the_plan(run: StackRun) -> None:
    routing = run.plan.platform.log_routing
    capture = run.capture
    (group,) = capture.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert (group.inputs["name"], group.inputs["retentionInDays"]) == (
        run.environment.logging.agent_log_group, run.environment.logging.retention_days)
    (subscription,) = capture.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    assert subscription.inputs == {
        "name": routing.subscription_filter_name, "logGroup": routing.trail_log_group,
        "filterPattern": routing.subscription_filter_pattern, "destinationArn": routing.destination_arn,
        "roleArn": routing.destination_role_arn}
    assert f'"agent-{run.stack}-*"' in subscription.inputs["filterPattern"]
    (metric,) = capture.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert metric.inputs["pattern"] == routing.denied_metric_filter_pattern
    assert metric.inputs["metricTransformation"] == {"name": "AgentAccessDenied",
                                                     "namespace": f"agentiam/{run.stack}", "value": "1"}
    (alarm,) = capture.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["alarmActions"] == [run.environment.logging.alarm_topic_arn]
    assert (alarm.inputs["metricName"], alarm.inputs["namespace"]) == ("AgentAccessDenied", f"agentiam/{run.stack}")
    assert (alarm.inputs["threshold"], alarm.inputs["period"]) == (1, 300)


def test_audit_device_is_managed_the_way_the_server_requires(run: StackRun) -> None:
    audit = run.plan.platform.log_routing.audit
    server = run.plan.platform.vault_server
    if server.flavor == "hashicorp":  # HashiCorp Vault enables audit devices only through sys/audit
        assert audit.api_managed
        (device,) = run.capture.of_type("vault:index/audit:Audit")
        assert device.inputs == {"path": audit.path, "type": "file", "options": audit.options}
        assert "vault_audit_config_block" not in run.capture.outputs
        return
    # OpenBao 2.4.0 and later: declared in the server's config file, whose block the stack outputs.
    assert (server.flavor, run.environment.vault.audit.api_managed, audit.api_managed) == ("openbao", False, False)
    assert run.capture.of_type("vault:index/audit:Audit") == []
    block = run.capture.outputs["vault_audit_config_block"]
    assert block == audit.config_block
    assert block.startswith('audit "file" "agentiam-file" {')


def test_boundaries_one_per_function_class(run: StackRun) -> None:
    policies = run.capture.of_type("aws:iam/policy:Policy")
    assert sorted(p.inputs["name"] for p in policies) == sorted(
        f"agentiam-{run.stack}-boundary-{f}" for f in {a.function for a in run.plan.agents})
    for policy in policies:
        assert policy.inputs["path"] == f"/agentiam/{run.stack}/"
        statements = json.loads(policy.inputs["policy"])["Statement"]
        assert any(s["Effect"] == "Deny" for s in statements)


def test_the_approle_mount_has_lockout_off_and_a_per_address_login_rate_limit(run: StackRun) -> None:
    # Lockout counts failures per role id, so it would let anyone holding the role id lock the agent out; the
    # setting is not in pulumi-vault's AuthBackend tune, hence a write-only generic endpoint on the tune path.
    approle = run.environment.vault.approle_mount
    (lockout,) = run.capture.of_type("vault:generic/endpoint:Endpoint")
    assert lockout.inputs == {"path": f"sys/auth/{approle}/tune", "disableRead": True, "disableDelete": True,
                              "dataJson": json.dumps({"user_lockout_config": {"lockout_disable": True}})}
    mount = next(r for r in run.capture.of_type("vault:index/authBackend:AuthBackend") if r.inputs["type"] == "approle")
    assert mount.urn in lockout.dependencies  # written after the mount exists
    limits = {r.inputs["name"]: r for r in run.capture.of_type("vault:index/quotaRateLimit:QuotaRateLimit")}
    plan_limit = next(m for m in run.plan.platform.mounts if m.type == "approle").login_rate_limit
    assert plan_limit is not None
    login = limits[plan_limit.name]
    assert login.inputs == {"name": f"agentiam-{run.environment.name}-approle-login",
                            "path": f"auth/{approle}/login", "rate": 20.0, "interval": 1.0}
    assert mount.urn in login.dependencies
