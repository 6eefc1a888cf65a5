"""`agentiam doctor`: a read-only preflight of one stack against its live Vault / OpenBao and AWS account.

Each check passes, warns or fails, and says how to fix what it found (findings as data; `agentiam.cli.doctor`
renders them). The checks talk to the servers through two small readers (`VaultReader`, `AwsReader`: the
adapters in `doctor_vault` / `doctor_aws` import hvac and boto3, this module does not) and never write: every Vault
call is a GET, a LIST, `sys/capabilities-self` or `auth/token/lookup-self`; every AWS call a Get/List.

Every call has a deadline. A server that is down, hung or too slow for it fails the check that was asking and the
rest of that server's checks are reported not run, so one dead server costs its timeout once, not once per check.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

from agentiam.client.errors import PermissionDenied, VaultRequestError, VaultSealed, VaultUnavailable
from agentiam.deploy import requirements
from agentiam.environment import vault_server
from agentiam.errors import ServerError
from agentiam.plan.model import IdentityPlan
from agentiam.plan.names import KILL_SWITCH_POLICY_NAME

CA_EXPIRY_WARNING = dt.timedelta(days=30)
DATABASE_CONNECT_TIMEOUT = 3.0  # seconds per database host: a TCP handshake, not a login


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "not run"


@dataclass(frozen=True)
class Check:
    """One finding of the preflight: what was checked, the outcome, what was seen, and the fix."""

    id: str
    system: str  # vault, aws, plan
    title: str
    status: Status
    detail: str
    fix: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "system": self.system, "title": self.title, "status": self.status.value,
                "detail": self.detail, "fix": self.fix, "seconds": round(self.seconds, 3)}


@dataclass
class Report:
    stack: str
    environment: str
    vault_addr: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.FAIL]

    @property
    def warned(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.WARN]

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "environment": self.environment, "vault_addr": self.vault_addr,
                "checks": [c.to_json() for c in self.checks],
                "summary": {s.value: sum(c.status is s for c in self.checks) for s in Status}}


class VaultReader(Protocol):
    """Read-only calls on Vault, each bounded by the run's deadline; errors from `agentiam.client.errors`."""

    address: str

    def health(self) -> dict[str, Any]: ...  # GET sys/health (unauthenticated)
    def lookup_self(self) -> dict[str, Any]: ...  # GET auth/token/lookup-self
    def capabilities(self, paths: list[str]) -> dict[str, list[str]]: ...  # POST sys/capabilities-self
    def read(self, path: str) -> dict[str, Any] | None: ...  # GET <path>: its `data`, None when not found


class AwsReader(Protocol):
    """Read-only IAM / STS calls with the operator's credentials; ServerError when AWS refuses, AwsUnreachable
    when it does not answer."""

    def caller_account(self) -> str: ...  # sts:GetCallerIdentity
    def principal_policies(self, arn: str) -> list[dict[str, Any]] | None: ...  # None: no such role or user
    def role_policy(self, role: str, name: str) -> tuple[bool, dict[str, Any] | None]: ...  # (role exists, doc)


class AwsUnreachable(ServerError):
    """AWS did not answer (connection refused, timed out): the remaining AWS checks are not run."""


@dataclass(frozen=True)
class Outcome:
    """What one probe found; the runner makes it a Check with the probe's id, title and time."""

    status: Status
    detail: str
    fix: str = ""


def make(status: Status, detail: str, fix: str = "") -> Outcome:
    return Outcome(status, detail, fix)


Probe = Callable[[], Outcome]


# ---- Vault ---------------------------------------------------------------------------------------------------


class VaultChecks:
    """The Vault side, in order: each may rely on what an earlier one established (the server answers)."""

    def __init__(self, plan: IdentityPlan, vault: VaultReader, stack: str, today: dt.date, role: str = "deployer"):
        self.plan, self.vault, self.stack, self.today, self.role = plan, vault, stack, today, role
        self.platform = plan.platform
        self.auth_paths = {m.type: m.path for m in plan.platform.mounts if m.kind == "auth"}
        self._auth: dict[str, Any] | None = None
        self._mounts: dict[str, Any] | None = None

    @property
    def cli(self) -> str:
        return "vault" if self.platform.vault_server.flavor == "hashicorp" else "bao"

    def auth_mounts(self) -> dict[str, Any]:
        if self._auth is None:
            self._auth = self.vault.read("sys/auth") or {}
        return self._auth

    def secret_mounts(self) -> dict[str, Any]:
        if self._mounts is None:
            self._mounts = self.vault.read("sys/mounts") or {}
        return self._mounts

    def platform_applied(self) -> bool:
        """Whether a `pulumi up` of the platform has run here (its AppRole mount exists)."""
        return f"{self.auth_paths['approle']}/" in self.auth_mounts()

    def probes(self) -> list[tuple[str, str, Probe]]:
        return [
            ("V01", "server reachable, initialized, unsealed", self.reachable),
            ("V02", "server flavor and version as the stack config says", self.server),
            ("V03", "TLS on the listener (certificate logins need it)", self.tls),
            ("V04", "deployer token valid for the whole `pulumi up`", self.token),
            ("V05", f"{self.role} token holds what it needs, and no more", self.policy),
            ("V06", "entity aliases pinned to the environment's mounts", self.alias_pinning),
            ("V07", "mounts the program creates or expects", self.mounts),
            ("V08", "audit device enabled", self.audit),
            ("V09", "AWS secrets engine configured, sending what the trust policies require", self.aws_engine),
            ("V10", "agent CA valid and deployed", self.agent_ca),
            ("V11", "AppRole user lockout off (a role id alone cannot lock an agent out)", self.lockout),
            ("V12", "database connections reachable", self.databases),
            ("V13", "identities of suspended and revoked agents disabled", self.disabled_entities),
        ]

    def reachable(self) -> Outcome:
        health = self.vault.health()
        if not health.get("initialized", False):
            return make(Status.FAIL, "the server is not initialized", f"initialize and unseal it ({self.cli} "
                                                                       "operator init)")
        return make(Status.PASS, f"{self.vault.address} answers, unsealed"
                                 f"{' (standby)' if health.get('standby') else ''}")

    def server(self) -> Outcome:
        health = self.vault.health()
        # HashiCorp Vault always reports `performance_standby`; OpenBao does not (openbao api/sys_health.go).
        seen = "hashicorp" if "performance_standby" in health else "openbao"
        version_text = str(health.get("version", "")).split("+")[0].split("-")[0]
        expected = self.platform.vault_server
        fix_config = "set vault.flavor and vault.version in the stack config to the live server's, then review " \
                     "the plan's diff (session tags, trust conditions, audit device follow them)"
        if seen != expected.flavor:
            return make(Status.FAIL, f"the server looks like {seen} {version_text}, the stack config says "
                                     f"{expected.flavor} {expected.version}", fix_config)
        try:
            live = vault_server.parse_version(version_text)
        except ValueError:
            return make(Status.WARN, f"the server reports version {health.get('version')!r}, not MAJOR.MINOR.PATCH",
                        "check `vault status` by hand")
        if live < vault_server.parse_version(expected.version):
            return make(Status.FAIL, f"the server runs {version_text}, older than the {expected.version} the plan "
                                     "relies on", fix_config)
        return make(Status.PASS, f"{seen} {version_text} (the plan relies on nothing newer than "
                                 f"{expected.version})")

    def tls(self) -> Outcome:
        if urlsplit(self.vault.address).scheme == "https":
            return make(Status.PASS, "https")
        return make(Status.FAIL, f"{self.vault.address} is plain http: agents log in with their certificate in the "
                                 "TLS handshake", "serve TLS on the listener agents use (listener tls_cert_file / "
                                 "tls_key_file) and point VAULT_ADDR at it")

    def token(self) -> Outcome:
        info = self.vault.lookup_self()
        needed = self.plan.deploy.vault_token_ttl
        policies = sorted(info.get("policies") or [])
        ttl = int(info.get("ttl") or 0)
        if "root" in policies:
            return make(Status.WARN, "the token is a root token", "deploy with a token of the deployer policy "
                        f"({requirements.deployer_policy_name(self.plan.environment)}, agentiam bootstrap)")
        if ttl and ttl < needed:
            return make(Status.FAIL, f"the token expires in {ttl} s; the provider's child token for this stack "
                                     f"lives {needed} s and dies with it", f"log in for a token living at least "
                                     f"{needed} s (the CI JWT role of agentiam bootstrap grants that)")
        return make(Status.PASS, f"policies {', '.join(policies) or '(none)'}, "
                                 f"{'no expiry' if not ttl else f'{ttl} s left'} (needs {needed} s)")

    def policy(self) -> Outcome:
        auditor = self.role == "auditor"
        rules = requirements.auditor_vault_rules(self.plan) if auditor else requirements.deployer_vault_rules(self.plan)
        paths = [r.example for r in rules]
        sensitive = self._sensitive_paths()
        got = self.vault.capabilities(paths + list(sensitive))
        missing = [f"{r.path} [{', '.join(sorted(set(r.capabilities) - set(got.get(r.example, []))))}]"
                   for r in rules if not set(r.capabilities) <= set(got.get(r.example, [])) | _root_caps(got, r.example)]
        name = (requirements.auditor_policy_name if auditor else requirements.deployer_policy_name)(
            self.plan.environment)
        fix = (f"apply the {self.role} policy: agentiam bootstrap --env {self.stack}, then {self.cli} policy write "
               f"{name} vault-{self.role}-policy.hcl")
        if missing:
            return make(Status.FAIL, f"missing: {'; '.join(missing)}", fix)
        broader = [f"{path} ({why})" for path, (caps, why) in sensitive.items()
                   if set(caps) & set(got.get(path, []))]
        if broader:
            return make(Status.WARN, f"the token may also: {'; '.join(broader)}",
                         "deploy with a token of the deployer policy alone")
        return make(Status.PASS, f"{len(rules)} rules of the deployer policy held")

    def _sensitive_paths(self) -> dict[str, tuple[tuple[str, ...], str]]:
        """Paths the deployer must not reach: an agent's second factor, its credentials, other policies."""
        env = self.plan.environment
        probe = f"{requirements.agent_prefix(env)}{requirements.PROBE}"
        database = next(m.path for m in self.platform.mounts if m.type == "database")
        aws = next(m.path for m in self.platform.expected_mounts if m.type == "aws")
        writes = {f"sys/policies/acl/{probe}": (("update", "create"), "write the environment's policies"),
                  f"auth/{self.auth_paths['approle']}/role/{probe}": (("update", "create", "delete"),
                                                                      "change agents' AppRole roles")} \
            if self.role == "auditor" else {}
        return {
            **writes,
            f"auth/{self.auth_paths['approle']}/role/{probe}/secret-id": (("update", "create"), "mint an agent's "
                                                                          "secret id"),
            f"{database}/creds/{probe}": (("read",), "read an agent's database credentials"),
            f"{aws}/creds/{probe}": (("read", "update"), "read an agent's AWS credentials"),
            f"auth/token/create/{probe}": (("update", "create"), "mint an agent's working token"),
            "sys/policies/acl/admin": (("update", "create"), "write policies outside the environment"),
        }

    def alias_pinning(self) -> Outcome:
        if self.role == "auditor":
            return make(Status.PASS, "an auditor token creates no alias")
        name = requirements.deployer_policy_name(self.plan.environment)
        policy = self.vault.read(f"sys/policies/acl/{name}")
        if policy is None:
            return make(Status.WARN, f"no policy {name} on this Vault (the token may use another)",
                        f"apply the deployer policy of agentiam bootstrap --env {self.stack}")
        text = str(policy.get("policy", ""))
        if '"mount_accessor"' in text:
            return make(Status.PASS, "entity aliases only on the environment's auth mounts")
        mounts = self.auth_mounts()
        accessors = {path: mounts.get(f"{path}/", {}).get("accessor") for path in
                     requirements.alias_mount_paths(self.plan)}
        if not all(accessors.values()):
            return make(Status.WARN, "not pinned yet: the auth mounts do not exist before the first `pulumi up`",
                        "after the first `pulumi up`, run agentiam doctor again: it prints the bootstrap command")
        flags = " ".join(f"--alias-mount-accessor {p}={a}" for p, a in sorted(accessors.items()))
        return make(Status.WARN, "the deployer may create entity aliases on any auth mount (its own CI login "
                                 "included) and so log in as any entity",
                    f"agentiam bootstrap --env {self.stack} {flags}, then {self.cli} policy write {name} "
                    "vault-deployer-policy.hcl")

    def mounts(self) -> Outcome:
        auth, secrets = self.auth_mounts(), self.secret_mounts()
        problems, notes = [], []
        for expected in self.platform.expected_mounts:
            entry = secrets.get(f"{expected.path}/")
            if entry is None:
                problems.append(f"no {expected.type} mount at {expected.path}")
            elif entry.get("type") != expected.type:
                problems.append(f"{expected.path} is a {entry.get('type')} mount, not {expected.type}")
            elif expected.options and any((entry.get("options") or {}).get(k) != v
                                          for k, v in expected.options.items()):
                problems.append(f"{expected.path} is not {expected.type} version {expected.options.get('version')}")
        for mount in self.platform.mounts:
            entry = (auth if mount.kind == "auth" else secrets).get(f"{mount.path}/")
            if entry is None:
                notes.append(f"{mount.path} (created by the first `pulumi up`)")
            elif entry.get("type") != mount.type:
                problems.append(f"{mount.path} is taken by a {entry.get('type')} mount: the program creates a "
                                f"{mount.type} mount there")
        if problems:
            return make(Status.FAIL, "; ".join(problems), f"enable the missing mounts ({self.cli} secrets enable "
                        "-path=<path> <type>; KV with -version=2; the AWS engine: vault-aws-secrets-engine.sh of "
                        "agentiam bootstrap) and move what occupies the program's paths, or rename them in the "
                        "stack config")
        return make(Status.PASS, "expected mounts present" + (f"; not yet: {', '.join(notes)}" if notes else ""))

    def audit(self) -> Outcome:
        audit = self.platform.log_routing.audit
        devices = self.vault.read("sys/audit") or {}
        device = devices.get(f"{audit.path}/")
        if device is not None:
            path = (device.get("options") or {}).get("file_path")
            if device.get("type") != audit.type or path != audit.options["file_path"]:
                return make(Status.FAIL, f"device {audit.path} is {device.get('type')} writing to {path}, the plan "
                                         f"says file {audit.options['file_path']} (log shipping reads that file)",
                            "make the device match the stack config (vault.audit), or the config the device")
            return make(Status.PASS, f"{audit.path}: {audit.type} {path}")
        if not audit.api_managed:
            return make(Status.FAIL, f"no audit device {audit.path}: nothing of what agents do is recorded",
                        "add vault-audit-device.hcl (agentiam bootstrap) to the server's config file and reload "
                        "it (SIGHUP or restart)")
        if self.platform_applied():
            return make(Status.FAIL, f"no audit device {audit.path}, though the platform was deployed",
                        f"run `pulumi up --stack {self.stack}`: the program creates it (sys/audit)")
        return make(Status.WARN, f"no audit device {audit.path} yet", "the first `pulumi up` creates it")

    def aws_engine(self) -> Outcome:
        aws = next(m.path for m in self.platform.expected_mounts if m.type == "aws")
        entry = self.secret_mounts().get(f"{aws}/")
        if entry is None or entry.get("type") != "aws":
            return make(Status.FAIL, f"no AWS secrets engine at {aws}", "sh vault-aws-secrets-engine.sh (agentiam "
                        "bootstrap)")
        config = self.vault.read(f"{aws}/config/root")
        if not config or not config.get("region"):
            return make(Status.FAIL, f"{aws}/config/root is not configured", "sh vault-aws-secrets-engine.sh "
                        "(agentiam bootstrap)")
        wants_tags = self.platform.vault_server.aws_session_tags
        deployed = None
        for agent in self.plan.agents:
            role = agent.vault.aws_secret_role
            if role is not None:
                deployed = (agent, self.vault.read(f"{aws}/roles/{role.name}"))
                if deployed[1] is not None:
                    break
        if deployed is None or deployed[1] is None:
            return make(Status.WARN if wants_tags else Status.PASS, f"configured (region {config.get('region')}); "
                        "no agent role deployed yet to read back" + (", so session tags are not confirmed"
                                                                     if wants_tags else ""),
                        "run agentiam doctor again after the first `pulumi up`" if wants_tags else "")
        agent, role = deployed
        planned = agent.vault.aws_secret_role.session_tags if agent.vault.aws_secret_role else {}
        stored = role.get("session_tags")
        if wants_tags and stored != planned:
            return make(Status.FAIL, f"role {agent.identity_name} reads back session_tags={stored!r}: this server "
                                     "does not send the tags every agent's trust policy requires (AccessDenied on "
                                     "every credential read)", "set vault.flavor / vault.version to what the "
                                     "server really is (session tags: HashiCorp Vault 1.17.2 or later)")
        if not wants_tags and stored:
            return make(Status.WARN, f"role {agent.identity_name} carries session tags the plan does not set",
                        f"run `pulumi up --stack {self.stack}`")
        return make(Status.PASS, f"region {config.get('region')}; role {agent.identity_name} reads back as planned")

    def agent_ca(self) -> Outcome:
        ca = self.platform.agent_ca
        expired = [c for c in ca.certificates if _day(c.not_after) < self.today]
        soon = [c for c in ca.certificates if self.today <= _day(c.not_after) < self.today + CA_EXPIRY_WARNING]
        if expired:
            return make(Status.FAIL, f"{ca.path}: {', '.join(c.subject for c in expired)} expired "
                                     f"({', '.join(c.not_after[:10] for c in expired)})",
                        "issue a new agent CA, add it to the PEM file (both during the rotation), review and apply")
        for agent in self.plan.agents:
            role = self.vault.read(f"auth/{agent.vault.cert.mount}/certs/{agent.vault.cert.role_name}")
            if role is not None:
                if _pem(role.get("certificate")) != _pem(ca.pem):
                    return make(Status.WARN, f"cert role {agent.vault.cert.role_name} trusts another CA than "
                                             f"{ca.path}", f"run `pulumi up --stack {self.stack}`")
                break
        if soon:
            return make(Status.WARN, f"{ca.path}: {', '.join(c.subject for c in soon)} expires "
                                     f"{', '.join(c.not_after[:10] for c in soon)}", "rotate the agent CA now: "
                        "add the new certificate beside the old one in the PEM file")
        return make(Status.PASS, f"{ca.path}: {len(ca.certificates)} certificate(s), valid")

    def lockout(self) -> Outcome:
        if not self.platform_applied():
            return make(Status.PASS, "the first `pulumi up` turns it off")
        mount = self.auth_paths["approle"]
        tune = self.vault.read(f"sys/auth/{mount}/tune") or {}
        if tune.get("user_lockout_disable") is True:
            return make(Status.PASS, f"{mount}: user lockout off, logins rate-limited per address")
        return make(Status.FAIL, f"{mount}: user lockout is on: six made-up secret ids with an agent's role id lock "
                                 "it out", f"run `pulumi up --stack {self.stack}` (the lockout setting is part of "
                                           "the platform)")

    def databases(self) -> Outcome:
        problems, drift, seen = [], [], []
        for connection in self.platform.database_connections:
            host, port = _host_port(connection.connection_url)
            if host is None:
                problems.append(f"{connection.name}: no host in the connection URL")
                continue
            reached = _tcp(host, port)
            (seen if reached is None else problems).append(f"{connection.name} ({host}:{port})"
                                                            + ("" if reached is None else f": {reached}"))
            stored = self.vault.read(f"{connection.mount}/config/{connection.name}")
            if stored is not None:
                url = (stored.get("connection_details") or {}).get("connection_url")
                if stored.get("plugin_name") != connection.plugin or url != connection.connection_url:
                    drift.append(connection.name)
        if problems:
            return make(Status.WARN, f"not reachable from here: {'; '.join(problems)}", "Vault verifies each "
                        "connection on `pulumi up` (verify_connection): make sure Vault reaches these hosts, and "
                        "the management user's password is the stack's secret config value")
        if drift:
            return make(Status.WARN, f"Vault's connection differs from the plan: {', '.join(drift)}",
                        f"run `pulumi up --stack {self.stack}`")
        return make(Status.PASS, f"reachable: {', '.join(seen)}" if seen else "no database connection")

    def disabled_entities(self) -> Outcome:
        live = []
        for agent in self.plan.agents:
            if agent.status == "active":
                continue
            entity = self.vault.read(f"identity/entity/name/{agent.vault.entity.name}")
            if entity is not None and not entity.get("disabled"):
                live.append(agent.agent)
        if live:
            return make(Status.FAIL, f"enabled on Vault though the spec says suspended or revoked: {', '.join(live)}",
                        " ; ".join(f"agentiam revoke {a} --env {self.stack}" for a in live))
        return make(Status.PASS, "every non-active agent's entity is disabled (or was never deployed)")


def _root_caps(got: Mapping[str, list[str]], path: str) -> set[str]:
    """A root token answers `root` for every path: it can do everything."""
    return {"create", "read", "update", "delete", "list", "sudo"} if "root" in got.get(path, []) else set()


def _day(stamp: str) -> dt.date:
    return dt.date.fromisoformat(stamp[:10])


def _pem(text: object) -> str:
    return "".join(str(text or "").split())


def _host_port(url: str) -> tuple[str | None, int]:
    try:
        parts = urlsplit(url.replace("{{username}}", "u").replace("{{password}}", "p"))
        return parts.hostname, parts.port or 5432
    except ValueError:
        return None, 0


def _tcp(host: str, port: int) -> str | None:
    """None if a TCP connection opens within the timeout, else why not."""
    try:
        with socket.create_connection((host, port), timeout=DATABASE_CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return type(exc).__name__ if not str(exc) else str(exc).split("] ")[-1]


# ---- AWS -----------------------------------------------------------------------------------------------------


class AwsChecks:
    def __init__(self, plan: IdentityPlan, aws: AwsReader, stack: str, deadline: float):
        self.plan, self.aws, self.stack, self.deadline = plan, aws, stack, deadline

    def probes(self) -> list[tuple[str, str, Probe]]:
        return [
            ("A01", "credentials of the environment's account", self.account),
            ("A02", "secrets-engine principal may assume the agent roles", self.principal),
            ("A03", "kill switches of suspended and revoked agents in place", self.kill_switches),
        ]

    def account(self) -> Outcome:
        account = self.aws.caller_account()
        if account != self.plan.account_id:
            return make(Status.FAIL, f"the credentials are of account {account}, the environment's is "
                                     f"{self.plan.account_id}", "use the environment account's deployer role")
        return make(Status.PASS, f"account {account}")

    def principal(self) -> Outcome:
        arn = self.plan.platform.aws_secrets_engine_principal_arn
        fix = (f"apply aws-secrets-engine-principal-policy.json (agentiam bootstrap --env {self.stack}) to {arn}")
        documents = self.aws.principal_policies(arn)
        if documents is None:
            return make(Status.FAIL, f"{arn} does not exist: Vault's AWS engine cannot vend any credentials",
                        f"create it (the identity Vault's hosts run as), then {fix}")
        probe = requirements.agent_role_arns(self.plan).replace("*", requirements.PROBE)
        needed = ["sts:AssumeRole"] + (["sts:TagSession"] if self.plan.platform.vault_server.aws_session_tags else [])
        missing = [a for a in needed if not _allows(documents, a, probe)]
        if missing:
            return make(Status.FAIL, f"{arn} may not call {', '.join(missing)} on the agent roles", fix)
        beyond = "arn:aws:iam::{}:role/{}".format(self.plan.account_id, "not-an-agent-role")
        if _allows(documents, "sts:AssumeRole", beyond):
            return make(Status.WARN, f"{arn} may assume roles other than the environment's agent roles",
                        f"narrow its policy to {requirements.agent_role_arns(self.plan)} ({fix})")
        return make(Status.PASS, f"{arn} may {' and '.join(needed)} on {requirements.agent_role_arns(self.plan)}")

    def kill_switches(self) -> Outcome:
        missing, revoked_active, looked, total = [], [], 0, len(self.plan.agents)
        for agent in self.plan.agents:
            if time.monotonic() >= self.deadline:
                break
            looked += 1
            exists, document = self.aws.role_policy(agent.aws.role_name, KILL_SWITCH_POLICY_NAME)
            if not exists:
                continue
            if agent.status != "active" and not _denies_all(document):
                missing.append(agent.agent)
            elif agent.status == "active" and document is not None:
                revoked_active.append(agent.agent)
        if missing:
            return make(Status.FAIL, f"no unconditional deny-all on the role of: {', '.join(missing)}",
                        " ; ".join(f"agentiam revoke {a} --env {self.stack}" for a in missing))
        if revoked_active:
            return make(Status.WARN, f"revoked out of band but active in their specs: {', '.join(revoked_active)}",
                        "set `status: revoked` in their specs and merge, or the next `pulumi up` re-enables their "
                        "identities")
        if looked < total:
            return make(Status.WARN, f"looked at {looked} of {total} agent roles before the deadline",
                        "run again with a longer --timeout")
        return make(Status.PASS, f"{total} agent role(s) looked at")


def _denies_all(document: dict[str, Any] | None) -> bool:
    if document is None:
        return False
    for statement in _statements(document):
        if statement.get("Effect") == "Deny" and "Condition" not in statement \
                and _listed(statement.get("Action")) == ["*"] and _listed(statement.get("Resource")) == ["*"]:
            return True
    return False


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _listed(value: object) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _matches(patterns: Iterable[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether the identity policies allow `action` on `resource` (Allow matching, no Deny matching; statements
    with conditions count as allowing: doctor cannot know the request's context)."""
    allowed = False
    for document in documents:
        for statement in _statements(document):
            actions, resources = _listed(statement.get("Action")), _listed(statement.get("Resource"))
            if not (_matches(actions, action) and _matches(resources, resource)):
                continue
            if statement.get("Effect") == "Deny" and "Condition" not in statement:
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


# ---- running ---------------------------------------------------------------------------------------------------


def _run(section: list[tuple[str, str, Probe]], system: str, report: Report, unreachable: tuple[type, ...]) -> None:
    """Run a server's checks in order; after one that found the server unreachable, the rest are not run."""
    stopped: str | None = None
    for check_id, title, probe in section:
        if stopped is not None:
            report.checks.append(Check(check_id, system, title, Status.SKIP, stopped))
            continue
        started = time.monotonic()
        try:
            outcome = probe()
        except unreachable as exc:
            outcome = make(Status.FAIL, str(exc), _unreachable_fix(system, exc))
            stopped = f"{system} did not answer (see {check_id})"
        except PermissionDenied as exc:
            outcome = make(Status.FAIL, str(exc), "apply the deployer policy of agentiam bootstrap (agentiam "
                                                  "doctor reads with the deployer's token)")
        except (VaultRequestError, ServerError) as exc:
            outcome = make(Status.FAIL, str(exc), "see the server's answer above")
        report.checks.append(Check(check_id, system, title, outcome.status, outcome.detail, outcome.fix,
                                   time.monotonic() - started))


def _unreachable_fix(system: str, exc: Exception) -> str:
    if isinstance(exc, VaultSealed):
        return "unseal it (vault operator unseal / bao operator unseal)"
    if system == "vault":
        return "check VAULT_ADDR, VAULT_CACERT and that the server runs and answers within --timeout"
    return "check the AWS credentials, --aws-endpoint-url and that AWS answers within --timeout"


def run_doctor(plan: IdentityPlan, stack: str, vault: VaultReader | None, aws: AwsReader | None, *,
               deadline: float, today: dt.date | None = None, role: str = "deployer") -> Report:
    """Every check of the stack; `vault` / `aws` None: that side is reported not run (no address / --no-aws)."""
    report = Report(stack=stack, environment=plan.environment, vault_addr=vault.address if vault else None)
    if vault is None:
        report.checks.append(Check("V01", "vault", "server reachable", Status.SKIP, "no Vault address",
                                   "set VAULT_ADDR and VAULT_TOKEN (the deployer's token)"))
    else:
        _run(VaultChecks(plan, vault, stack, today or dt.date.today(), role).probes(), "vault", report,
             (VaultUnavailable, VaultSealed))
    if aws is not None:
        _run(AwsChecks(plan, aws, stack, deadline).probes(), "aws", report, (AwsUnreachable,))
    return report


def to_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"


