"""Build the identity plan from validated specs and one environment's config. Pure and deterministic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from agentiam.environment import vault_server
from agentiam.environment.model import EnvironmentConfig
from agentiam.plan import names
from agentiam.plan.effective import EffectiveSpec, effective, fill
from agentiam.plan.model import RESOURCE_ACCOUNT_KEY
from agentiam.plan.model import (
    AgentCaPlan,
    AgentPlan,
    AppRolePlan,
    AuditPlan,
    AwsRolePlan,
    AwsSecretRolePlan,
    CertificatePlan,
    CertRolePlan,
    DatabaseConnectionPlan,
    DatabaseRolePlan,
    DeployPlan,
    EgressAllowListPlan,
    EgressPlan,
    EntityPlan,
    ExpectedMountPlan,
    IdentityPlan,
    KvSharePlan,
    LegacyCredentialPlan,
    LogRoutingPlan,
    MigrationPlan,
    MountPlan,
    PlatformPlan,
    RateLimitPlan,
    TokenRolePlan,
    VaultPlan,
    VaultServerPlan,
)
from agentiam.plan.boundary import POLICY_VERSION, boundary_plan
from agentiam.plan.vault_policy import (
    kv_rules,
    login_self_service_rules,
    merge_rules,
    mint_rules,
    render_policy,
    self_service_rules,
)
from agentiam.iam.arn import account_free
from agentiam.render.escape import Hcl
from agentiam.spec.model import AgentSpec, AwsStatement, FunctionClass, Status
from agentiam.spec.types import format_timestamp
from agentiam.spec.validate import ValidSpec

DAY = 86400
# A certificate login only needs to mint one wrapped secret id (docs/facts.md#vault-two-factors):
# one use to mint it, one to revoke itself. TTL = explicit max TTL: the token can never outlive 120 s.
CERT_TOKEN_TTL = 120
CERT_TOKEN_NUM_USES = 2
# The AppRole token only creates the working token through the agent's token role, then revokes itself: it needs
# seconds. Unlimited uses: a use-limited token cannot create child tokens (docs/facts.md#vault-tokens).
MINT_TOKEN_TTL = 60
SECRET_ID_MAX_WRAP_TTL = "300s"
# AppRole logins per second from one client address (Vault keys rate-limit quotas by client address, so a guesser
# elsewhere never spends an agent's budget). An agent logs in once per max TTL or restart; many agents behind one
# NAT address share it, hence generous. Guessing a 128-bit, single-use, minutes-long secret id is hopeless at any rate.
LOGIN_RATE_PER_SECOND = 20


def statement_sid(sid: str) -> str:
    """`read-invoices` -> `ReadInvoices` (IAM Sids are alphanumeric)."""
    return "".join(part[:1].upper() + part[1:] for part in sid.split("-"))


class _NamedSpec(Protocol):
    """What `agents_in_environment` reads of a spec: a `ValidSpec`, or a fleet summary that reads as one."""

    @property
    def spec(self) -> Any: ...


_Named = TypeVar("_Named", bound=_NamedSpec)


def agents_in_environment(specs: Sequence[_Named], environment: str) -> list[_Named]:
    """Specs deployed to `environment`, sorted by agent name."""
    return sorted((s for s in specs if environment in s.spec.environments), key=lambda s: s.spec.name)


def selected(spec: AgentSpec, env: EnvironmentConfig) -> bool:
    """Whether this stack's selection (team filter, shard) provisions the agent."""
    selection = env.selection
    if selection.teams is not None and spec.owner.team not in selection.teams:
        return False
    return in_shard(spec.name, env)


def in_shard(agent: str, env: EnvironmentConfig) -> bool:
    """Whether the agent falls in this stack's shard of its environment (every agent, when it is not sharded)."""
    return names.shard_of(agent, env.selection.shard_count) == env.selection.shard_index




def statement_accounts(grant: AwsStatement, env: EnvironmentConfig) -> list[str] | None:
    """The accounts a statement's resources must belong to, or None when its ARNs already say so.

    An S3 ARN names no account (`arn:aws:s3:::bucket/*`): without a condition, a bucket of any account matches, so
    such a statement is limited to the environment's account with `aws:ResourceAccount`, as is any statement that
    declares other accounts (`cross_account`), which then lists them too.
    """
    declared = list(grant.cross_account.accounts) if grant.cross_account else []
    if not declared and not any(account_free(r) for r in grant.resources):
        return None
    return sorted({env.account_id, *declared})


def declared_accounts(spec: AgentSpec) -> set[str]:
    """Every other account the spec's statements declare (`cross_account`)."""
    return {a for grant in spec.permissions.aws if grant.cross_account for a in grant.cross_account.accounts}


def inline_policy(spec: AgentSpec, env: EnvironmentConfig) -> dict | None:
    """The agent's least-privilege IAM policy in `env` (None without AWS grants); AGT040 measures exactly this."""
    statements = []
    for grant in spec.permissions.aws:
        statement: dict[str, Any] = {
            "Sid": statement_sid(grant.sid),
            "Effect": "Allow",
            "Action": sorted(set(grant.actions)),
            "Resource": sorted({fill(r, spec, env) for r in grant.resources}),
        }
        accounts = statement_accounts(grant, env)
        if accounts is not None:
            # IfExists: an action whose request carries no resource account (Resource "*" actions) is not blocked;
            # every S3 bucket and object request carries one.
            statement["Condition"] = {"StringEqualsIfExists": {RESOURCE_ACCOUNT_KEY: accounts}}
        statements.append(statement)
    if not statements:
        return None
    return {"Version": POLICY_VERSION, "Statement": sorted(statements, key=lambda s: s["Sid"])}


SESSION_TAG_AGENT = "agentiam-agent"
SESSION_TAG_ENVIRONMENT = "agentiam-environment"


def _session_tags(spec: AgentSpec, env: EnvironmentConfig) -> dict[str, str]:
    """The tags the AWS secrets engine stamps on the agent's STS sessions (CloudTrail: principal tags), or none
    when the server cannot send them (docs/facts.md#vault-servers)."""
    if not vault_server.supports_session_tags(env.vault.flavor, env.vault.server_version):
        return {}
    return {SESSION_TAG_AGENT: spec.name, SESSION_TAG_ENVIRONMENT: env.name}


def _trust_policy(spec: AgentSpec, env: EnvironmentConfig) -> dict:
    """Only the environment's secrets-engine principal may assume the role; where the server sends session tags,
    only with the agent's own. Never a condition the server cannot meet: required tags it never sends would make
    every credential read AccessDenied. No `sts:SetSourceIdentity`: no Vault sets a source identity."""
    principal = {"AWS": env.aws_secrets_engine_principal_arn}
    tags = _session_tags(spec, env)
    if not tags:
        return {"Version": POLICY_VERSION, "Statement": [
            {"Sid": "VaultAwsSecretsEngineAssumes", "Effect": "Allow", "Principal": principal,
             "Action": "sts:AssumeRole"}]}
    return {"Version": POLICY_VERSION, "Statement": [
        {   # The engine must stamp every session with the agent's name (CloudTrail: principal tags).
            "Sid": "VaultAwsSecretsEngineAssumesWithAgentTag",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {f"aws:RequestTag/{key}": value for key, value in tags.items()}},
        },
    ]}


KILL_SWITCH_POLICY: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": [
    {"Sid": "AgentiamKillSwitch", "Effect": "Deny", "Action": "*", "Resource": "*"}]}


def _tags(loaded: ValidSpec, env: EnvironmentConfig) -> dict[str, str]:
    """The agent role's tags, each value as IAM accepts it (a `%` in a sponsor's address would fail CreateRole)."""
    spec = loaded.spec
    tags = {
        "agentiam:agent": spec.name,
        "agentiam:environment": env.name,
        "agentiam:function": spec.function.value,
        "agentiam:owner": spec.owner.team,
        "agentiam:sponsor": spec.owner.sponsor,
        "agentiam:expires": spec.expires.isoformat(),
        "agentiam:spec-digest": loaded.digest,
        "managed-by": "agentiam",
    }
    return {key: names.iam_tag_value(value) for key, value in tags.items()}


DATABASE_PRIVILEGES = {"read": ("SELECT",), "write": ("SELECT", "INSERT", "UPDATE", "DELETE")}


def _postgres_statements(schemas: list[str], access: str) -> tuple[list[str], list[str]]:
    privileges = ", ".join(DATABASE_PRIVILEGES[access])
    create = ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' NOINHERIT;"]
    revoke = ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';"]
    for schema in schemas:
        create.append(f'GRANT USAGE ON SCHEMA "{schema}" TO "{{{{name}}}}";')
        create.append(f'GRANT {privileges} ON ALL TABLES IN SCHEMA "{schema}" TO "{{{{name}}}}";')
        revoke.append(f'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA "{schema}" FROM "{{{{name}}}}";')
        revoke.append(f'REVOKE USAGE ON SCHEMA "{schema}" FROM "{{{{name}}}}";')
    revoke.append('DROP ROLE IF EXISTS "{{name}}";')
    return create, revoke


def _vault(loaded: ValidSpec, env: EnvironmentConfig, eff: EffectiveSpec, ident: str) -> VaultPlan:
    spec = loaded.spec
    vault = env.vault
    creds = eff.credentials
    active = eff.status is Status.ACTIVE
    cidrs = [str(c) for c in spec.authentication.bound_cidrs]
    database_roles = []
    if active:
        for grant in sorted(spec.permissions.databases, key=lambda g: (g.database, g.access.value)):
            connection = env.databases[grant.database]
            create, revoke = _postgres_statements(connection.schemas, grant.access.value)
            database_roles.append(DatabaseRolePlan(
                mount=vault.database_mount,
                name=names.database_role_name(spec.name, env.name, grant.database, grant.access.value),
                database=grant.database, access=grant.access.value, schemas=sorted(connection.schemas),
                privileges=list(DATABASE_PRIVILEGES[grant.access.value]),
                creation_statements=create, revocation_statements=revoke,
                default_ttl=min(creds.database_ttl, creds.database_max_ttl), max_ttl=creds.database_max_ttl))
    aws_secret_role = None
    if active and spec.permissions.aws:
        aws_secret_role = AwsSecretRolePlan(
            mount=vault.aws_mount, name=ident, credential_type="assumed_role",
            role_arns=[names.role_arn(env.account_id, spec.name, env.name)],
            default_sts_ttl=creds.aws_session_ttl, max_sts_ttl=creds.aws_session_ttl,
            session_tags=_session_tags(spec, env))

    rules: list[tuple[str, tuple[str, ...]]] = self_service_rules()
    for role in database_roles:
        rules.append((f"{role.mount}/creds/{role.name}", ("read",)))
    if aws_secret_role is not None:
        rules.append((f"{vault.aws_mount}/creds/{ident}", ("read",)))
        rules.append((f"{vault.aws_mount}/sts/{ident}", ("read", "update")))
    if active:
        for kv in spec.permissions.kv:
            rules.extend(kv_rules(vault.kv_mount, fill(kv.path, spec, env), kv.capabilities))
    policy_rules = merge_rules(rules)
    policy_hcl = render_policy(f"agentiam: {spec.name} in {env.name} ({spec.function.value})", policy_rules)
    login_policy = names.login_policy_name(spec.name, env.name)
    secret_id_path = f"auth/{vault.approle_mount}/role/{ident}/secret-id"
    login_rules = merge_rules(login_self_service_rules() + ([(secret_id_path, ("update",))] if active else []))
    login_hcl = render_policy(
        f"agentiam: certificate login of {spec.name} in {env.name}: may only mint one wrapped secret id",
        login_rules,
        parameters={secret_id_path: {"min_wrapping_ttl": "1s", "max_wrapping_ttl": SECRET_ID_MAX_WRAP_TTL}})
    common_name = fill(spec.authentication.certificate_common_name, spec, env) \
        if spec.authentication.certificate_common_name else names.default_common_name(spec.name, env.name)
    token_max = min(creds.token_max_ttl, DAY)
    token_role = names.token_role_name(spec.name, env.name)
    mint_policy = names.mint_policy_name(spec.name, env.name)
    mint_policy_rules, mint_pins = mint_rules(token_role, token_role, active)
    mint_hcl = render_policy(f"agentiam: AppRole token of {spec.name} in {env.name}: may only create its working "
                             "token through its token role", mint_policy_rules, parameters=mint_pins)
    rate = eff.network.vault_login_rate
    return VaultPlan(
        policy_name=ident,
        policy_rules=policy_rules,
        policy_hcl=policy_hcl,
        login_policy_name=login_policy,
        login_policy_rules=login_rules,
        login_policy_hcl=login_hcl,
        mint_policy_name=mint_policy,
        mint_policy_rules=mint_policy_rules,
        mint_policy_hcl=mint_hcl,
        approle=AppRolePlan(
            mount=vault.approle_mount, role_name=ident, token_policies=[mint_policy],
            token_ttl=MINT_TOKEN_TTL, token_max_ttl=MINT_TOKEN_TTL, token_explicit_max_ttl=MINT_TOKEN_TTL,
            token_num_uses=0, token_type="service", token_no_default_policy=True, bind_secret_id=True,
            secret_id_ttl=creds.secret_id_ttl, secret_id_num_uses=creds.secret_id_num_uses,
            secret_id_bound_cidrs=cidrs, token_bound_cidrs=cidrs),
        token_role=TokenRolePlan(
            name=token_role, allowed_policies=[ident], entity_alias=token_role, orphan=True, renewable=True,
            token_period=min(creds.token_ttl, token_max), token_explicit_max_ttl=token_max, token_type="service",
            token_no_default_policy=True, token_bound_cidrs=cidrs),
        cert=CertRolePlan(
            mount=vault.cert_mount, role_name=ident, allowed_common_names=[common_name],
            token_policies=[login_policy], token_ttl=CERT_TOKEN_TTL, token_max_ttl=CERT_TOKEN_TTL,
            token_explicit_max_ttl=CERT_TOKEN_TTL, token_type="service", token_no_default_policy=True,
            token_num_uses=CERT_TOKEN_NUM_USES, token_bound_cidrs=cidrs),
        entity=EntityPlan(
            name=ident, disabled=not active,
            metadata={"kind": "ai-agent", "agent": spec.name, "environment": env.name,
                      "function": spec.function.value, "owner": spec.owner.team, "sponsor": spec.owner.sponsor,
                      "expires": spec.expires.isoformat(), "spec_digest": loaded.digest},
            approle_alias_mount=vault.approle_mount, cert_alias_mount=vault.cert_mount, cert_alias_name=common_name,
            token_alias_mount=names.TOKEN_MOUNT, token_alias_name=token_role),
        database_roles=database_roles,
        aws_secret_role=aws_secret_role,
        rate_limit=RateLimitPlan(name=ident, path=f"auth/{vault.approle_mount}/", role=ident,
                                 rate=float(rate.requests), interval=rate.interval) if rate and active else None,
        kv_shares=sorted((KvSharePlan(path=f"{vault.kv_mount}/data/{fill(share.path, spec, env)}",
                                      agents=sorted(set(share.agents)), capabilities=sorted(set(share.capabilities)))
                          for share in spec.permissions.kv_shares), key=lambda s: s.path),
    )


def agent_plan(loaded: ValidSpec, env: EnvironmentConfig) -> AgentPlan:
    """The plan entry of one agent in one environment."""
    spec = loaded.spec
    eff = effective(spec, env.name)
    ident = names.identity_name(spec.name, env.name)
    active = eff.status is Status.ACTIVE
    network = eff.network
    return AgentPlan(
        agent=spec.name, environment=env.name, identity_name=ident, status=eff.status.value,
        function=spec.function.value, description=spec.description, owner_team=spec.owner.team,
        owner_sponsor=spec.owner.sponsor, owner_contact=spec.owner.contact, expires=spec.expires.isoformat(),
        source_file=loaded.file, spec_digest=loaded.digest, tags=_tags(loaded, env),
        aws=AwsRolePlan(
            role_name=ident, role_path=names.role_path(env.name),
            role_arn=names.role_arn(env.account_id, spec.name, env.name),
            max_session_duration=max(3600, eff.credentials.aws_session_ttl),
            trust_policy=_trust_policy(spec, env),
            inline_policy_name=names.INLINE_POLICY_NAME, inline_policy=inline_policy(spec, env),
            boundary_policy_name=names.boundary_policy_name(env.name, spec.function.value),
            boundary_policy_arn=names.boundary_policy_arn(env.account_id, env.name, spec.function.value),
            kill_switch_policy_name=names.KILL_SWITCH_POLICY_NAME,
            kill_switch_policy=None if active else KILL_SWITCH_POLICY),
        vault=_vault(loaded, env, eff, ident),
        egress=EgressPlan(
            endpoints=[{"host": e.host, "port": e.port, "purpose": e.purpose}
                       for e in sorted(network.egress, key=lambda e: (e.host, e.port))] if active else [],
            enforcement=env.egress.enforcement,
            allow_list=names.egress_rule_group_name(env.name) if env.egress.enforcement == "network-firewall"
            else None),
        migration=migration_plan(spec, env.name),
    )


def migration_plan(spec: AgentSpec, environment: str) -> MigrationPlan | None:
    """The spec's migration in one environment, None where it lists none: credentials sorted by natural key."""
    migration = spec.migration
    here = migration.environments.get(environment) if migration else None
    if migration is None or here is None:
        return None
    legacy = here.legacy
    credentials = ([LegacyCredentialPlan(kind="iam-access-key", name=k.id, scope=k.user)
                    for k in legacy.iam_access_keys]
                   + [LegacyCredentialPlan(kind="iam-user", name=user, scope="") for user in legacy.iam_users]
                   + [LegacyCredentialPlan(kind="vault-role", name=r.role, scope=r.mount) for r in legacy.vault_roles]
                   + [LegacyCredentialPlan(kind="vault-token", name=t.accessor, scope="") for t in legacy.vault_tokens])
    started = here.parallel_run_started
    return MigrationPlan(wave=migration.wave, parallel_run=migration.parallel_run,
                         parallel_run_started=format_timestamp(started) if started else None, note=here.note,
                         legacy=sorted(credentials, key=lambda c: (c.kind, c.scope, c.name)))


_AUDIT_OPTION_LINES = {"file_path": Hcl("    file_path = {}"), "format": Hcl("    format = {}"),
                       "hmac_accessor": Hcl("    hmac_accessor = {}"), "log_raw": Hcl("    log_raw = {}")}


def _log_routing(env: EnvironmentConfig) -> LogRoutingPlan:
    logging = env.logging
    prefix = names.identity_name("", env.name)  # "agent-<env>-": every agent role name starts with it
    issuer = "$.userIdentity.sessionContext.sessionIssuer.userName"
    audit = env.vault.audit
    options = {"file_path": audit.file_path, "format": "json", "hmac_accessor": "true", "log_raw": "false"}
    # Pasted into the server's config file: every value an HCL string (a `"` or `${` in a path stays inert).
    block = "\n".join([Hcl('audit "file" {} {{').format(audit.path), Hcl("  options {"),
                       *[_AUDIT_OPTION_LINES[k].format(v) for k, v in sorted(options.items())], Hcl("  }"),
                       Hcl("}")]) + "\n"
    return LogRoutingPlan(
        agent_log_group=logging.agent_log_group, retention_days=logging.retention_days,
        trail_log_group=logging.trail_log_group, agent_role_pattern=f"{prefix}*",
        subscription_filter_name=f"agentiam-{env.name}-agent-activity",
        subscription_filter_pattern=f'{{ {issuer} = "{prefix}*" }}',
        destination_arn=logging.destination_arn, destination_role_arn=logging.destination_role_arn,
        denied_metric_filter_name=f"agentiam-{env.name}-agent-access-denied",
        denied_metric_filter_pattern=(f'{{ ({issuer} = "{prefix}*") && (($.errorCode = "AccessDenied*") || '
                                      f'($.errorCode = "*UnauthorizedOperation")) }}'),
        denied_metric_namespace=f"agentiam/{env.name}", denied_metric_name="AgentAccessDenied",
        denied_alarm_name=f"agentiam-{env.name}-agent-access-denied", denied_alarm_period=300,
        denied_alarm_threshold=1,
        alarm_topic_arn=logging.alarm_topic_arn,
        audit=AuditPlan(path=audit.path, type="file", options=options,
                        api_managed=vault_server.audit_api_managed(env.vault.flavor, env.vault.server_version,
                                                                   audit.api_managed),
                        config_block=block))


def agent_ca_plan(env: EnvironmentConfig) -> AgentCaPlan:
    """The agent CA as the stack config's loader read it (bytes, digest, certificates)."""
    ca = env.referenced_file("vault.agent_ca_pem_file")
    return AgentCaPlan(path=ca.path, sha256=ca.sha256, pem=ca.content.decode("ascii"),  # PEM: checked ASCII
                       certificates=[CertificatePlan(subject=c.subject, sha256_fingerprint=c.sha256_fingerprint,
                                                     not_after=c.not_after) for c in ca.certificates])


@dataclass(frozen=True)
class Contribution:
    """What one spec adds to its environment's platform: `_platform` builds the boundaries and the connections'
    allowed roles from these alone, and the diff's incremental path compares them (`agentiam.diff.platform`)."""

    function: str
    actions: frozenset[str]
    database_roles: frozenset[tuple[str, str]]  # (database, Vault role name)
    accounts: frozenset[str] = frozenset()  # other accounts its statements declare (the class boundary allows them)


def contribution(loaded: ValidSpec, env: EnvironmentConfig) -> Contribution | None:
    """The spec's share of `env`'s platform; None if the spec is not deployed there (selection is irrelevant: the
    platform serves every shard of the environment)."""
    spec = loaded.spec
    if env.name not in spec.environments:
        return None
    roles = frozenset((g.database, names.database_role_name(spec.name, env.name, g.database, g.access.value))
                      for g in spec.permissions.databases if g.database in env.databases)
    return Contribution(spec.function.value, frozenset(a for g in spec.permissions.aws for a in g.actions), roles,
                        frozenset(declared_accounts(spec)))


# What a Network Firewall domain list matches the names in (docs/facts.md#aws-network-firewall).
EGRESS_TARGET_TYPES = ("HTTP_HOST", "TLS_SNI")
# The rule group of an environment without egress still lists one name, one that can never resolve (RFC 6761
# reserves `.invalid`): the group keeps existing, and its ARN in the network team's policy, whatever the fleet.
NO_EGRESS_TARGET = "no-egress.agentiam.invalid"


def egress_allow_list(in_env: Sequence[ValidSpec], env: EnvironmentConfig) -> EgressAllowListPlan:
    """The environment's allow-list: the hosts its active agents' effective network sections name (a suspended or
    revoked agent reaches nothing), and the rule group that holds them. A domain list matches names only, so the
    union of hosts is what the firewall allows every workload behind it, whatever each agent's ports."""
    hosts: dict[str, set[str]] = {}
    for loaded in in_env:
        eff = effective(loaded.spec, env.name)
        if eff.status is Status.ACTIVE:
            for endpoint in eff.network.egress:
                hosts.setdefault(endpoint.host, set()).add(loaded.spec.name)
    targets = sorted(hosts) or [NO_EGRESS_TARGET]
    return EgressAllowListPlan(
        enforcement=env.egress.enforcement, rule_group_name=names.egress_rule_group_name(env.name),
        capacity=env.egress.rule_group_capacity, capacity_needed=egress_capacity_needed(len(hosts)),
        target_types=list(EGRESS_TARGET_TYPES), rule_order=env.egress.rule_order, home_net=list(env.egress.home_net),
        hosts={host: sorted(agents) for host, agents in sorted(hosts.items())}, targets=targets)


def egress_capacity_needed(hosts: int) -> int:
    """Capacity the allow-list of `hosts` distinct hosts uses: one rule per name (the hosts, or the one placeholder
    when there is none) and target type, plus one per target type (docs/facts.md#aws-network-firewall)."""
    return (max(hosts, 1) + 1) * len(EGRESS_TARGET_TYPES)


def _platform(in_env: list[ValidSpec], env: EnvironmentConfig) -> PlatformPlan:
    vault = env.vault
    shares = [c for c in (contribution(loaded, env) for loaded in in_env) if c is not None]
    by_class: dict[FunctionClass, list[Contribution]] = {}
    for share in shares:
        by_class.setdefault(FunctionClass(share.function), []).append(share)
    roles_by_database: dict[str, list[str]] = {name: [] for name in env.databases}
    for share in shares:
        for database, role in share.database_roles:
            roles_by_database[database].append(role)
    return PlatformPlan(
        vault_server=VaultServerPlan(
            flavor=vault.flavor, version=vault.version,
            aws_session_tags=vault_server.supports_session_tags(vault.flavor, vault.server_version)),
        aws_secrets_engine_principal_arn=env.aws_secrets_engine_principal_arn,
        mounts=[
            MountPlan(kind="auth", type="approle", path=vault.approle_mount, max_lease_ttl=DAY, default_lease_ttl=3600,
                      user_lockout_disable=True,
                      login_rate_limit=RateLimitPlan(
                          name=f"agentiam-{env.name}-approle-login", path=f"auth/{vault.approle_mount}/login",
                          role="", rate=float(LOGIN_RATE_PER_SECOND), interval=1)),
            # Vault refuses a lockout setting on cert mounts (it has no lockout); a certificate cannot be guessed.
            MountPlan(kind="auth", type="cert", path=vault.cert_mount, max_lease_ttl=DAY,
                      default_lease_ttl=CERT_TOKEN_TTL, user_lockout_disable=False, login_rate_limit=None),
            MountPlan(kind="secrets", type="database", path=vault.database_mount, max_lease_ttl=DAY,
                      default_lease_ttl=3600, user_lockout_disable=False, login_rate_limit=None),
        ],
        expected_mounts=[ExpectedMountPlan(type="aws", path=vault.aws_mount, options={}),
                         ExpectedMountPlan(type="kv", path=vault.kv_mount, options={"version": "2"})],
        tags={"agentiam:environment": env.name, "managed-by": "agentiam"},
        agent_ca=agent_ca_plan(env),
        boundaries=[boundary_plan(fc, (a for c in by_class[fc] for a in c.actions), env,
                                  (a for c in by_class[fc] for a in c.accounts))
                    for fc in sorted(by_class, key=lambda f: f.value)],
        database_connections=[
            DatabaseConnectionPlan(mount=vault.database_mount, name=name, plugin=conn.plugin,
                                   connection_url=conn.connection_url, username=conn.username,
                                   password_secret=conn.password_secret,
                                   allowed_roles=sorted(set(roles_by_database[name])), verify_connection=True)
            for name, conn in sorted(env.databases.items())],
        log_routing=_log_routing(env),
        egress_allow_list=egress_allow_list(in_env, env),
    )


def platform_plan(specs: Sequence[ValidSpec], env: EnvironmentConfig) -> PlatformPlan:
    """The environment-wide part of the plan alone (what `build_plan` puts in `platform`), for the diff."""
    return _platform(agents_in_environment(specs, env.name), env)


# The Vault provider's child token must outlive the whole `up`: 20 minutes (the provider's default) plus 3 s per
# resource as if applied one at a time (Vault answers in milliseconds, IAM in about a second), in half hours so
# that a growing fleet seldom changes it, at most a day (no token of agentiam lives longer).
TOKEN_TTL_BASE = 1200
TOKEN_TTL_PER_RESOURCE = 3
TOKEN_TTL_STEP = 1800


def agent_resources(agent: AgentPlan) -> int:
    """Resources the components register for one agent: its IAM role and inline policies, its three Vault policies
    (working, certificate login, mint), AppRole, cert and token roles, entity and three aliases, and its
    dynamic-secret roles and rate limit."""
    vault = agent.vault
    return (1 + (agent.aws.inline_policy is not None) + (agent.aws.kill_switch_policy is not None)
            + 3 + 3 + 1 + 3 + len(vault.database_roles) + (vault.aws_secret_role is not None)
            + (vault.rate_limit is not None))


def platform_resources(platform: PlatformPlan) -> int:
    """Resources the platform registers: mounts with their login guards, connections, boundaries, log routing, and
    the egress rule group where one enforces the allow-list."""
    mounts = sum(1 + m.user_lockout_disable + (m.login_rate_limit is not None) for m in platform.mounts)
    log_routing = 4 + platform.log_routing.audit.api_managed  # group, subscription, metric filter, alarm (+ audit)
    egress = platform.egress_allow_list.enforcement == "network-firewall"  # its rule group
    return mounts + len(platform.database_connections) + len(platform.boundaries) + log_routing + egress


def deploy_plan(platform: PlatformPlan, agents: Sequence[AgentPlan], shared_resources: bool) -> DeployPlan:
    """How long the Vault provider's token must live for this stack's `up`."""
    resources = (platform_resources(platform) if shared_resources else 0) + sum(map(agent_resources, agents))
    needed = TOKEN_TTL_BASE + TOKEN_TTL_PER_RESOURCE * resources
    return DeployPlan(vault_token_ttl=min(DAY, -(-needed // TOKEN_TTL_STEP) * TOKEN_TTL_STEP), resources=resources)


def build_plan(specs: Sequence[ValidSpec], env: EnvironmentConfig) -> IdentityPlan:
    """The identity plan of one stack. `specs` must already have passed the guardrails."""
    in_env = agents_in_environment(specs, env.name)
    platform = _platform(in_env, env)
    agents = [agent_plan(loaded, env) for loaded in in_env if selected(loaded.spec, env)]
    return IdentityPlan(
        environment=env.name, account_id=env.account_id, region=env.region,
        shared_resources=env.selection.shared_resources,
        deploy=deploy_plan(platform, agents, env.selection.shared_resources),
        platform=platform,
        agents=agents,
    )


def plan_json(plan: IdentityPlan) -> str:
    """Canonical JSON of a plan: sorted keys, stable bytes for the same input."""
    return json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
