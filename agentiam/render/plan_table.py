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

from agentiam.plan import coverage, model
from agentiam.plan.coverage import derived, each, handled, not_needed
from agentiam.plan.build import plan_json
from agentiam.plan.model import RESOURCE_ACCOUNT_KEY, AgentPlan, IamStatement, IdentityPlan, PlatformPlan
from agentiam.render.escape import Terminal
from agentiam.render.text_layout import DEFAULT_WIDTH, atoms, table, words, wrap
from agentiam.spec.types import format_duration, idn_display

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
    model.AuditPlan: "audit devices", model.LogRoutingPlan: "log routings", model.AgentCaPlan: "agent CAs",
    model.CertificatePlan: "CA certificates",
    model.VaultPlan: None, model.EgressPlan: None, model.AgentPlan: None, model.PlatformPlan: None,
    model.EgressAllowListPlan: None,  # a rule group only where it is enforced: counted in `object_counts`
    # Facts and settings, not resources: the server the plan targets, mounts it expects to exist, the token size.
    model.VaultServerPlan: None, model.ExpectedMountPlan: None, model.DeployPlan: None,
    model.IdentityPlan: None,
    model.MigrationPlan: None, model.LegacyCredentialPlan: None,  # credentials agentiam retires, never creates
}


_NESTED = "a nested plan object: its fields are declared one by one"
_JSON = "in the JSON plan only (`agentiam plan --format json`)"
_FIXED = "fixed by agentiam, the same for every agent: " + _JSON
_NAME = "a name derived from the identity: " + _JSON
_NETWORKS = "the login networks shown (cert.token_bound_cidrs)"
# What the text shows of each plan field (see agentiam.plan.coverage: a test fails when a field is not declared).
COVERAGE = coverage.Coverage("plan table", model.IdentityPlan, {
    model.IdentityPlan: {
        **each("environment account_id region agents", handled("render_plan: heading")),
        "shared_resources": handled("_summary: which stack creates the platform"),
        "platform": handled("_platform"),
        "format": not_needed("the JSON plan's version"),
        "deploy": not_needed("how `pulumi up` talks to Vault: " + _JSON)},
    model.DeployPlan: {coverage.EVERY_FIELD: not_needed(_JSON)},
    model.AgentPlan: {
        **each("agent function status expires", handled("_agent: heading and render_plan's table")),
        **each("identity_name owner_team owner_sponsor owner_contact source_file spec_digest description",
               handled("_agent")),
        "environment": handled("render_plan: heading"),
        "tags": not_needed("resource tags: " + _JSON),
        **each("aws vault egress migration", handled(_NESTED))},
    model.MigrationPlan: {coverage.EVERY_FIELD: handled("_agent: migration")},
    model.LegacyCredentialPlan: {coverage.EVERY_FIELD: handled("_agent: migration, each credential's subject")},
    model.AwsRolePlan: {
        **each("role_arn boundary_policy_arn inline_policy_name kill_switch_policy_name", handled("_agent: IAM role")),
        "trust_policy": handled("_agent: assumed by"),
        "inline_policy": handled("_aws_statement: every statement"),
        "kill_switch_policy": handled("_agent: kill"),
        **each("role_name role_path boundary_policy_name", derived("part of the ARN shown")),
        "max_session_duration": derived("the session lifetime shown (aws_secret_role.max_sts_ttl)")},
    model.VaultPlan: {
        **each("policy_name login_policy_name mint_policy_name", handled("_agent: policies")),
        "policy_rules": handled("_agent: kv (VaultPlan.secret_rules); the rest as database roles and sessions"),
        **each("login_policy_rules mint_policy_rules", derived("fixed by the identity: " + _JSON)),
        **each("policy_hcl login_policy_hcl mint_policy_hcl", derived("the rules as HCL: " + _JSON)),
        **each("approle token_role cert entity aws_secret_role rate_limit", handled(_NESTED)),
        "database_roles": handled("_agent: database"),
        "kv_shares": handled("_agent: kv share")},
    model.AppRolePlan: {
        **each("mount role_name secret_id_ttl secret_id_num_uses", handled("_agent: login")),
        **each("token_policies token_ttl token_max_ttl token_explicit_max_ttl token_num_uses token_type "
               "token_no_default_policy bind_secret_id", not_needed("the mint token's: " + _FIXED)),
        **each("secret_id_bound_cidrs token_bound_cidrs", derived(_NETWORKS))},
    model.TokenRolePlan: {
        **each("name token_period token_explicit_max_ttl", handled("_agent: token")),
        "token_bound_cidrs": derived(_NETWORKS),
        **each("allowed_policies", derived("the working policy shown (policy_name)")),
        **each("entity_alias", derived(_NAME)),
        **each("orphan renewable token_type token_no_default_policy", not_needed(_FIXED))},
    model.CertRolePlan: {
        **each("mount allowed_common_names token_bound_cidrs", handled("_agent: login")),
        "role_name": derived(_NAME),
        **each("token_policies token_ttl token_max_ttl token_explicit_max_ttl token_type token_no_default_policy "
               "token_num_uses", not_needed("the certificate token's: " + _FIXED))},
    model.EntityPlan: {coverage.EVERY_FIELD: derived("the identity shown (identity_name): " + _JSON)},
    model.DatabaseRolePlan: {
        **each("mount name database access schemas privileges default_ttl max_ttl", handled("_agent: database")),
        **each("creation_statements revocation_statements", derived("from the privileges and schemas: " + _JSON))},
    model.AwsSecretRolePlan: {
        **each("mount name max_sts_ttl", handled("_agent: IAM role sessions")),
        **each("credential_type role_arns default_sts_ttl", derived("the role and session lifetime shown")),
        "session_tags": not_needed("tags on the session: " + _JSON)},
    model.RateLimitPlan: {
        **each("name path rate interval", handled("_agent: rate; _platform: mount login guards")),
        "role": derived("the agent's AppRole role, shown in the login line")},
    model.KvSharePlan: {coverage.EVERY_FIELD: handled("_agent: kv share")},
    model.EgressPlan: {coverage.EVERY_FIELD: handled("_agent: egress, enforced")},
    model.PlatformPlan: {
        **each("vault_server mounts expected_mounts boundaries database_connections log_routing agent_ca",
               handled("_platform")),
        "egress_allow_list": handled("_egress"),
        "aws_secrets_engine_principal_arn": derived("the principal shown in each role's `assumed by`"),
        "tags": not_needed("tags on the environment-wide resources: " + _JSON)},
    model.VaultServerPlan: {coverage.EVERY_FIELD: handled("_platform: server")},
    model.EgressAllowListPlan: {
        **each("enforcement rule_group_name capacity capacity_needed target_types home_net hosts", handled("_egress")),
        "targets": handled("_egress: the hosts, or the one `.invalid` name of an empty group"),
        "rule_order": not_needed("the firewall policy's rule order, a setting the network team matches: " + _JSON)},
    model.ExpectedMountPlan: {coverage.EVERY_FIELD: handled("_platform: mount ... must exist before the first up")},
    model.MountPlan: {coverage.EVERY_FIELD: handled("_platform: mount")},
    model.BoundaryPlan: {
        **each("function policy_arn policy", handled("_platform: boundary")),
        **each("policy_name policy_path", derived("part of the ARN shown"))},
    model.DatabaseConnectionPlan: {
        **each("name plugin connection_url username allowed_roles", handled("_platform: database (host only)")),
        "mount": derived("the mount of the roles' paths shown"),
        "password_secret": not_needed("a reference to a secret, never shown"),
        "verify_connection": not_needed(_FIXED)},
    model.LogRoutingPlan: {
        **each("subscription_filter_pattern denied_metric_filter_pattern", not_needed("event patterns: " + _JSON)),
        coverage.EVERY_FIELD: handled("_platform: logs, audit")},
    model.AuditPlan: {
        "config_block": not_needed("the server configuration block: " + _JSON),
        coverage.EVERY_FIELD: handled("_platform: audit")},
    model.AgentCaPlan: {
        "pem": not_needed("the certificates' bytes: their subjects and fingerprints are shown"),
        coverage.EVERY_FIELD: handled("_platform: agent CA")},
    model.CertificatePlan: {coverage.EVERY_FIELD: handled("_platform: agent CA")},
})


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


def _aws_statement(lines: _Lines, statement: IamStatement, account_id: str) -> None:
    sublines = [[Terminal("{}:").format(statement.sid), *atoms(statement.actions)],
                [Terminal("on"), *atoms(statement.resources)]]
    if statement.resource_accounts:
        listed = [Terminal("{} ({})").format(a, "this environment" if a == account_id else "declared other account")
                  for a in statement.resource_accounts]
        sublines.append([Terminal("only in"), *atoms(listed), Terminal("(condition {})").format(RESOURCE_ACCOUNT_KEY)])
    lines.field("aws", *sublines)


def _migration(lines: _Lines, migration: model.MigrationPlan) -> None:
    """The move off shared credentials: what `agentiam migrate revoke-legacy` may cut, and from when."""
    started = (Terminal("since {}").format(migration.parallel_run_started) if migration.parallel_run_started
               else Terminal("not started: nothing may be revoked"))
    head = [*words(Terminal("wave {},").format(migration.wave if migration.wave is not None else "-")),
            *words(Terminal("parallel run {}").format(_duration(migration.parallel_run))), *words(started)]
    lines.field("migration", head, *([words(Terminal("note: {}").format(migration.note))] if migration.note else []),
                *([Terminal("legacy"), *words(Terminal("{}").format(credential.subject))]
                  for credential in migration.legacy))


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
    for statement in aws.statements():
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
        shown = idn_display(endpoint["host"])
        lines.field("egress", [Terminal("{} port {}:").format(endpoint["host"], endpoint["port"]),
                               *words(str(endpoint["purpose"]))],
                    words(Terminal("(reads as {})").format(shown)) if shown else [])
    if agent.egress.endpoints:
        lines.field("enforced", _enforcement(agent.egress.enforcement, agent.egress.allow_list))
    if vault.rate_limit:
        quota = vault.rate_limit
        lines.field("logins", [*words(Terminal("at most {} AppRole logins per {} (Vault quota").format(
            _number(quota.rate), _duration(quota.interval))), Terminal.value(quota.name), Terminal("on"),
            Terminal("{});").format(quota.path), *words(Terminal("not a limit on calls to the egress hosts"))])
    lines.field("policies", atoms([Terminal("{} (working token)").format(vault.policy_name),
                                   Terminal("{} (certificate login)").format(vault.login_policy_name),
                                   Terminal("{} (AppRole token)").format(vault.mint_policy_name)]))
    if agent.migration is not None:
        _migration(lines, agent.migration)


def _enforcement(enforcement: str, allow_list: str | None) -> list[Terminal]:
    if enforcement == "network-firewall" and allow_list:
        return [*words(Terminal("by the Network Firewall rule group")), Terminal("{}:").format(allow_list),
                *words(Terminal("host names in TLS SNI and HTTP Host, on any port, for every workload behind "
                                "the firewall"))]
    return words(Terminal("not by agentiam: the environment's allow-list is a list for the network team "
                          "(egress.enforcement: none)"))


def _egress(lines: _Lines, egress: model.EgressAllowListPlan) -> None:
    hosts = [[Terminal("{}:").format(host), *words(Terminal("for {}").format(Terminal(", ").join(agents)))]
             for host, agents in egress.hosts.items()]
    if egress.enforcement == "network-firewall":
        lines.field("egress", [*words(Terminal("allow-list enforced by the Network Firewall rule group")),
                               Terminal.value(egress.rule_group_name),
                               *words(Terminal("(stateful, ALLOWLIST on {}; capacity {} of {})").format(
                                   Terminal(", ").join(egress.target_types), egress.capacity_needed,
                                   egress.capacity))],
                    [Terminal("from"), *(atoms(egress.home_net) if egress.home_net
                                         else words(Terminal("the firewall's own VPC (HOME_NET)")))],
                    *hosts or [words(Terminal("no host: the group lists only {}").format(egress.targets[0]))])
    else:
        lines.field("egress", words(Terminal("allow-list not enforced by agentiam (egress.enforcement: none): {} "
                                             "host(s) for the network team").format(len(egress.hosts))), *hosts)


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
        lines.field("mount", words(Terminal(
            "secrets {} at {}: not created by agentiam, must exist before the first up{}").format(
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
    _egress(lines, platform.egress_allow_list)
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
    platform["Network Firewall rule groups"] += plan.platform.egress_allow_list.enforcement == "network-firewall"
    return +agents, +platform


def _counted(counts: Counter[str]) -> list[Terminal]:
    return atoms([Terminal("{} {}").format(label, n)
                  for label, n in sorted(counts.items(), key=lambda i: i[0].lower())])


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


def render_json(plan: IdentityPlan, width: int = DEFAULT_WIDTH) -> str:
    """The complete plan as JSON (byte-identical for the same input); `width` is for the text's sake only."""
    return plan_json(plan)


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


# The formats of this module, by the name `--format` takes (agentiam.cli.common.format_option).
FORMATS = {"text": render_plan, "json": render_json}
