"""The plan as text for terminals: every agent with every grant, the environment-wide resources, then a summary.

Everything shown is read from the plan (`agentiam.plan.model`), nothing is derived again. Lines are laid out to the
terminal's width by `agentiam.render.text_layout`: they break between values, never inside one, so an ARN, a name
or a path is never cut, at any width. Every value is `Terminal` text (`agentiam.render.escape`): shown with escapes
for control and invisible characters, never as markup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from agentiam.plan import model
from agentiam.plan.build import RESOURCE_ACCOUNT_KEY
from agentiam.plan.model import AgentPlan, IdentityPlan, PlatformPlan
from agentiam.render.escape import Terminal
from agentiam.render.text_layout import DEFAULT_WIDTH, atoms, table, words, wrap
from agentiam.spec.types import format_duration

LABEL = 10  # columns of the label (`database`, `IAM role`) before a grant's value
INDENT = 2
VALUE = INDENT + LABEL  # where values start; wrapped lines of a value continue here, sub-lines two further
# What the plan holds, by model class, as the summary counts it; None: a container, a setting or a resource the
# program relies on but does not create (expected mounts).
# tests/render/test_plan_table.py fails when a plan class is missing here, so a new resource type is counted.
OBJECTS: dict[type[BaseModel], str | None] = {
    model.AwsRolePlan: "IAM roles", model.AppRolePlan: "AppRole roles", model.CertRolePlan: "certificate roles",
    model.TokenRolePlan: "token roles", model.EntityPlan: "identity entities",
    model.DatabaseRolePlan: "database roles", model.AwsSecretRolePlan: "AWS secret roles",
    model.RateLimitPlan: "rate-limit quotas", model.KvSharePlan: "KV shares", model.BoundaryPlan: "boundaries",
    model.DatabaseConnectionPlan: "database connections", model.MountPlan: "mounts",
    model.ExpectedMountPlan: None, model.AuditPlan: "audit devices", model.LogRoutingPlan: "log routings", model.AgentCaPlan: "agent CAs",
    model.CertificatePlan: "CA certificates",
    model.VaultPlan: None, model.VaultServerPlan: None, model.DeployPlan: None, model.EgressPlan: None, model.AgentPlan: None, model.PlatformPlan: None,
    model.IdentityPlan: None,
    model.MigrationPlan: None, model.LegacyCredentialPlan: None,  # credentials agentiam retires, never creates
}


def _duration(seconds: int | None) -> str:
    return format_duration(seconds) if seconds else "-"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _policy_statement(statement: dict[str, Any]) -> list[Terminal]:
    """`Sid: Allow a, b` (an allow lists its actions), `Sid: Deny 49 actions` (a deny list counts them), and its
    conditions: `where StringNotEqualsIfExists aws:ResourceAccount 333333333333`."""
    actions = _listed(statement.get("Action", []))
    head = [Terminal("{}: {}").format(statement.get("Sid", "-"), statement.get("Effect", "-"))]
    if statement.get("Effect") == "Allow" or len(actions) == 1:
        head += atoms(actions)
    else:
        head.append(Terminal("{} actions").format(len(actions)))
    for operator, tests in sorted((statement.get("Condition") or {}).items()):
        for key, values in sorted(tests.items()):
            head += [Terminal("where {} {}").format(operator, key), *atoms(_listed(values))]
    return head


class _Lines:
    """The lines of the text plan, each value laid out to the width."""

    def __init__(self, width: int):
        self.width = width
        self.lines: list[Terminal] = []

    def blank(self) -> None:
        self.lines.append(Terminal(""))

    def heading(self, text: Terminal) -> None:
        self.lines += wrap(Terminal(""), words(text), self.width, INDENT)

    def field(self, label: str, *sublines: Sequence[Terminal]) -> None:
        """`  label     value` and each further (non-empty) sub-line under the value; each wrapped where it must."""
        prefix = Terminal("{}{}").format(" " * INDENT, label.ljust(LABEL))
        for i, parts in enumerate(s for s in sublines if s):
            first = prefix if i == 0 else Terminal.value(" " * VALUE)
            self.lines += wrap(first, parts, self.width, VALUE + 2)


def _aws_statement(lines: _Lines, statement: dict[str, Any], account_id: str) -> None:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    sublines = [[Terminal("{}:").format(statement["Sid"]), *atoms(actions)],
                [Terminal("on"), *atoms(resources)]]
    accounts = statement.get("Condition", {}).get("StringEqualsIfExists", {}).get(RESOURCE_ACCOUNT_KEY)
    if accounts:
        listed = [Terminal("{} ({})").format(a, "this environment" if a == account_id else "declared other account")
                  for a in (accounts if isinstance(accounts, list) else [accounts])]
        sublines.append([Terminal("only in"), *atoms(listed), Terminal("(condition {})").format(RESOURCE_ACCOUNT_KEY)])
    lines.field("aws", *sublines)


def _agent(lines: _Lines, agent: AgentPlan, plan: IdentityPlan) -> None:
    vault = agent.vault
    lines.heading(Terminal("{}: {}, {}, expires {}").format(agent.agent, agent.function, agent.status, agent.expires))
    lines.field("identity", [Terminal.value(agent.identity_name)])
    lines.field("owner", [*atoms([agent.owner_team, Terminal("sponsor {}").format(agent.owner_sponsor),
                                  Terminal("contact {}").format(agent.owner_contact)])])
    lines.field("spec", [Terminal.value(agent.source_file), Terminal("({})").format(agent.spec_digest)])
    lines.field("does", words(agent.description))
    cert = vault.cert
    cidrs = atoms(cert.token_bound_cidrs) if cert.token_bound_cidrs else [Terminal("any network")]
    lines.field("login", [Terminal("certificate"), *atoms(cert.allowed_common_names), Terminal("on"),
                          Terminal("auth/{}").format(cert.mount), Terminal("from"), *cidrs],
                [*words(Terminal("then a secret id (ttl {}, {} use(s)) for").format(
                    _duration(vault.approle.secret_id_ttl), vault.approle.secret_id_num_uses)),
                 Terminal("auth/{}/role/{}").format(vault.approle.mount, vault.approle.role_name)])
    role = vault.token_role
    lines.field("token", [*words(Terminal("ttl {}, max {}, through").format(
        _duration(role.token_period), _duration(role.token_explicit_max_ttl))),
        Terminal("auth/token/create/{}").format(role.name)])
    aws = agent.aws
    session = vault.aws_secret_role
    trusted = sorted({principal for statement in aws.trust_policy.get("Statement", [])
                      for principal in _listed(statement.get("Principal", {}).get("AWS", []))})
    lines.field("IAM role", [Terminal.value(aws.role_arn)],
                [Terminal("assumed by"), *atoms(trusted)],
                [Terminal("boundary"), Terminal.value(aws.boundary_policy_arn)],
                [Terminal("inline policy"), Terminal.value(aws.inline_policy_name)] if aws.inline_policy else [],
                [Terminal("sessions"), Terminal.value(_duration(session.max_sts_ttl) if session else "-"),
                 Terminal("through"), Terminal("{}/creds/{}").format(session.mount, session.name)]
                if session else words(Terminal("no AWS credentials (no AWS grant, or not active)")))
    if aws.kill_switch_policy is not None:
        lines.field("kill", [*words(Terminal("every action denied by")), Terminal.value(aws.kill_switch_policy_name),
                             Terminal("(status {})").format(agent.status)])
    for statement in (aws.inline_policy or {}).get("Statement", []):
        _aws_statement(lines, statement, plan.account_id)
    for db in vault.database_roles:
        lines.field("database", [*words(Terminal("{}: {} ({}) on schema(s)").format(
            db.database, db.access, Terminal(", ").join(db.privileges))), *atoms(db.schemas)],
                    [*words(Terminal("lease {}, max {}, through").format(_duration(db.default_ttl),
                                                                         _duration(db.max_ttl))),
                     Terminal("{}/creds/{}").format(db.mount, db.name)])
    for path, caps in vault.secret_rules().items():
        lines.field("kv", [Terminal("{}:").format(path), *atoms(caps)])
    for share in vault.kv_shares:
        lines.field("kv share", [Terminal("{}:").format(share.path), *atoms(share.capabilities)],
                    [Terminal("with"), *atoms(share.agents)])
    for endpoint in agent.egress.endpoints:
        lines.field("egress", [Terminal("{} port {}:").format(endpoint["host"], endpoint["port"]),
                               *words(str(endpoint["purpose"]))])
    if agent.egress.rate_limit_requests:
        lines.field("rate", words(Terminal("{} requests per {}").format(agent.egress.rate_limit_requests,
                                                                        _duration(agent.egress.rate_limit_interval))),
                    [Terminal("Vault quota"), Terminal.value(vault.rate_limit.name), Terminal("on"),
                     Terminal.value(vault.rate_limit.path)] if vault.rate_limit else [])
    lines.field("policies", atoms([Terminal("{} (working token)").format(vault.policy_name),
                                   Terminal("{} (certificate login)").format(vault.login_policy_name),
                                   Terminal("{} (AppRole token)").format(vault.mint_policy_name)]))


def _host(connection_url: str) -> str:
    """`host:port/database` of a connection URL: never its credentials (`user:password@`) or options (`?...`)."""
    rest = connection_url.split("://", 1)[-1]
    authority, _, path = rest.partition("/")
    return authority.rpartition("@")[2] + ("/" + path.split("?", 1)[0] if path else "")


def _platform(lines: _Lines, plan: IdentityPlan) -> None:
    platform: PlatformPlan = plan.platform
    owner = (Terminal("this stack creates them") if plan.shared_resources
             else Terminal("another stack of {} creates them; shown for reference").format(plan.environment))
    lines.heading(Terminal("Environment-wide resources of {} ({})").format(plan.environment, owner))
    server = platform.vault_server
    lines.field("server", words(Terminal("{} {}: STS session tags {}").format(
        "HashiCorp Vault" if server.flavor == "hashicorp" else "OpenBao", server.version,
        "sent and required by agent trust policies" if server.aws_session_tags else "not sent, not required")))
    for mount in platform.mounts:
        quota = mount.login_rate_limit
        lines.field("mount", words(Terminal("{} {} at {}: leases {}, at most {}").format(
            mount.kind, mount.type, mount.path, _duration(mount.default_lease_ttl), _duration(mount.max_lease_ttl))),
            words(Terminal("user lockout off")) if mount.user_lockout_disable else [],
            words(Terminal("logins on {} at most {} per {} per client address (quota {})").format(
                quota.path, _number(quota.rate), _duration(quota.interval), quota.name)) if quota is not None else [])
    for expected in platform.expected_mounts:
        lines.field("mount", words(Terminal("secrets {} at {}: not created by agentiam, must exist before the first up{}").format(
            expected.type, expected.path, "".join(Terminal(", tuned {} {}").format(k, v)
                                                     for k, v in sorted(expected.options.items())))))
    for boundary in platform.boundaries:
        statements = boundary.policy.get("Statement", [])
        lines.field("boundary", [Terminal("{}:").format(boundary.function), Terminal.value(boundary.policy_arn)],
                    *(_policy_statement(statement) for statement in
                      (statements if isinstance(statements, list) else [statements])))
    for connection in platform.database_connections:
        lines.field("database", [Terminal("{}: {} at").format(connection.name, connection.plugin),
                                 Terminal.value(_host(connection.connection_url)),
                                 Terminal("as {}").format(connection.username)],
                    [Terminal("roles"), *atoms(connection.allowed_roles)] if connection.allowed_roles
                    else [Terminal("no agent role")])
    logs = platform.log_routing
    lines.field("logs", [*words(Terminal("activity of roles {} from").format(logs.agent_role_pattern)),
                         Terminal.value(logs.trail_log_group), Terminal("to"), Terminal.value(logs.agent_log_group),
                         Terminal("(filter {})").format(logs.subscription_filter_name)],
                [*words(Terminal("kept {} days, forwarded to").format(logs.retention_days)),
                 Terminal.value(logs.destination_arn),
                 *([Terminal("as"), Terminal.value(logs.destination_role_arn)] if logs.destination_role_arn else [])],
                [*words(Terminal("denied calls: metric {}/{} (filter {}), alarm {} at {} in {}, to").format(
                    logs.denied_metric_namespace, logs.denied_metric_name, logs.denied_metric_filter_name,
                    logs.denied_alarm_name, logs.denied_alarm_threshold, _duration(logs.denied_alarm_period))),
                 Terminal.value(logs.alarm_topic_arn)])
    audit = logs.audit
    lines.field("audit", [Terminal("Vault audit device {} ({}):").format(audit.path, audit.type),
                          *atoms([Terminal("{} {}").format(k, v) for k, v in sorted(audit.options.items())])],
                words(Terminal("enabled through the API") if audit.api_managed
                      else Terminal("enabled by the Vault server's configuration (the plan holds the block)")))
    ca = platform.agent_ca
    lines.field("agent CA", [Terminal.value(ca.path), Terminal("sha256"), Terminal.value(ca.sha256)],
                *([[Terminal("{},").format(c.subject), Terminal("until {}, SHA-256").format(c.not_after),
                    Terminal.value(c.sha256_fingerprint)] for c in ca.certificates]))


def _count(node: object, counts: Counter[str]) -> None:
    if isinstance(node, BaseModel):
        label = OBJECTS[type(node)]
        if label:
            counts[label] += 1
        for name in type(node).model_fields:
            _count(getattr(node, name), counts)
    elif isinstance(node, list):
        for item in node:
            _count(item, counts)


def object_counts(plan: IdentityPlan) -> tuple[Counter[str], Counter[str]]:
    """(per-agent objects, environment-wide objects) of the plan, by type: the plan's objects (`OBJECTS`), and the
    policies and endpoints its agents carry as fields."""
    agents: Counter[str] = Counter()
    for agent in plan.agents:
        _count(agent, agents)
        agents["IAM inline policies"] += agent.aws.inline_policy is not None
        agents["kill switches"] += agent.aws.kill_switch_policy is not None
        agents["Vault policies"] += 3  # working, certificate login, AppRole token
        agents["egress endpoints"] += len(agent.egress.endpoints)
    platform: Counter[str] = Counter()
    _count(plan.platform, platform)
    return +agents, +platform


def _counted(counts: Counter[str]) -> list[Terminal]:
    return atoms([Terminal("{} {}").format(label, n) for label, n in sorted(counts.items(), key=lambda i: i[0].lower())])


def _summary(lines: _Lines, plan: IdentityPlan) -> None:
    statuses = Counter(agent.status for agent in plan.agents)
    lines.heading(Terminal("Summary: {} agent(s) ({})").format(
        len(plan.agents), Terminal(", ").join(Terminal("{} {}").format(n, s) for s, n in sorted(statuses.items()))
        if statuses else Terminal("none")))
    agents, platform = object_counts(plan)
    lines.field("agents", _counted(agents))
    lines.field("platform", _counted(platform),
                [Terminal("(created by this stack)") if plan.shared_resources
                 else Terminal("(created by another stack of the environment)")])


def render_plan(plan: IdentityPlan, width: int = DEFAULT_WIDTH) -> str:
    """The whole plan of one stack as text, laid out to `width` columns (values are never cut)."""
    lines = _Lines(width)
    lines.heading(Terminal("agentiam plan: {} (account {}, {}): {} agent(s)").format(
        plan.environment, plan.account_id, plan.region, len(plan.agents)))
    lines.blank()
    rows = [[Terminal.value(v) for v in (
        a.agent, a.function, a.status,
        Terminal("{}/{}").format(_duration(a.vault.token_role.token_period),
                                 _duration(a.vault.token_role.token_explicit_max_ttl)),
        _duration(a.vault.aws_secret_role.max_sts_ttl) if a.vault.aws_secret_role else "-", a.expires)]
        for a in plan.agents]
    lines.lines += table(("agent", "function", "status", "token", "session", "expires"), rows, width, indent=0)
    for agent in plan.agents:
        lines.blank()
        _agent(lines, agent, plan)
    lines.blank()
    _platform(lines, plan)
    lines.blank()
    _summary(lines, plan)
    return "\n".join(lines.lines) + "\n"
