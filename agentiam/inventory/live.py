"""Live inventory: what exists on an environment's Vault and AWS account, put side by side with its identity plan.

Three kinds of findings, each with the fix to apply:

- **undeclared**: an identity no spec declares: an AppRole or cert role, entity, policy, database or rate-limit role
  on the environment's own mounts or named like its agents; an IAM role under its path or named like its agents; an
  IAM user named like an agent;
- **long-lived**: a credential that outlives the 24-hour rule: IAM access keys (with age and last use), secret ids
  without expiry or use limit, tokens without expiry or over 24 hours, roles and mounts whose TTLs exceed 24 hours;
- **drifted**: what the plan declares, changed on the server: policies, TTLs, CIDRs, boundary, trust, inline and
  attached policies, the entity enabled or disabled against the spec's status, the kill switch missing on an
  inactive agent or left by `agentiam revoke` on an active one, secrets-engine roles.

The servers are read through the `VaultState` / `AwsState` protocols (`vault_state.py`: hvac, `aws_state.py`: boto3,
imported by the CLI only when `--live` runs). Every read checks the scan's deadline first; a server that cannot be
reached (down, hung past the request timeout, sealed) ends that server's part of the scan at once, and the report
says exactly which parts were and were not checked.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from agentiam.errors import ServerError
from agentiam.plan.build import KILL_SWITCH_POLICY
from agentiam.plan.model import AgentPlan, IdentityPlan
from agentiam.plan.vault_policy import merge_rules, render_policy
from agentiam.spec.types import format_duration

DAY = 86400  # the 24-hour rule: tokens and dynamic credentials live at most 24 hours (docs/guardrails.md)


class Kind(str, Enum):
    UNDECLARED = "undeclared"
    LONG_LIVED = "long-lived"
    DRIFTED = "drifted"


class Outcome(str, Enum):
    CHECKED = "checked"
    FAILED = "FAILED"
    NOT_CHECKED = "not checked"
    SKIPPED = "skipped"  # by request (--no-aws, --no-tokens...): not a failure


SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class LiveFinding:
    """One thing on a server that the plan does not say, or says otherwise."""

    kind: Kind
    severity: str  # low | medium | high
    system: str  # vault | aws
    target: str  # the Vault path or the AWS ARN / name
    message: str
    fix: str
    agent: str | None = None  # the declared agent it concerns, if any
    field: str = ""
    expected: str | None = None
    actual: str | None = None

    def sort_key(self) -> tuple:
        return (-SEVERITIES.index(self.severity), self.kind.value, self.system, self.agent or "", self.target,
                self.field)


@dataclass(frozen=True)
class Check:
    """What one part of the scan covered, and whether it could."""

    system: str
    scope: str
    outcome: Outcome
    detail: str


@dataclass
class LiveReport:
    environment: str
    vault_address: str | None
    aws_endpoint: str | None
    now: str
    agents: int
    findings: list[LiveFinding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every requested part was read."""
        return all(c.outcome in (Outcome.CHECKED, Outcome.SKIPPED) for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {kind.value: sum(f.kind is kind for f in self.findings) for kind in Kind}


class Unreachable(ServerError):
    """A server did not answer (down, hung past the request timeout, sealed): the rest of its scan is skipped."""


class DeadlineReached(ServerError):
    """The scan's own deadline passed: nothing more is read."""


class VaultState(Protocol):
    """Raw reads with an operator token (implemented by `vault_state.VaultReader`). `read` returns the response's
    `data` or None on 404; `keys` the keys of a LIST ([] on 404); `key_info` its key_info."""

    address: str

    def read(self, path: str) -> dict[str, Any] | None: ...

    def keys(self, path: str) -> list[str]: ...

    def key_info(self, path: str) -> dict[str, dict[str, Any]]: ...

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


class AwsState(Protocol):
    """IAM reads (implemented by `aws_state.AwsReader`); None when the entity does not exist."""

    endpoint: str | None

    def roles(self) -> list[dict[str, Any]]: ...

    def role(self, name: str) -> dict[str, Any] | None: ...

    def role_policies(self, name: str) -> dict[str, dict[str, Any]]: ...

    def attached_policies(self, name: str) -> list[str]: ...

    def policy_document(self, arn: str) -> dict[str, Any] | None: ...

    def users(self) -> list[dict[str, Any]]: ...

    def access_keys(self, user: str) -> list[dict[str, Any]]: ...

    def key_last_used(self, user: str, key_id: str) -> dict[str, Any]: ...


Progress = Callable[[str, int, int], None]  # (what, done, total)


def inventory_policy(plan: IdentityPlan) -> str:
    """The Vault ACL policy a token needs for `agentiam inventory --live` on this environment, and nothing more:
    reads and lists of what the scan names, the two lookups (POST), and sudo to list token accessors."""
    mounts = {m.type: m.path for m in plan.platform.mounts}
    aws = sorted({e.vault.aws_secret_role.mount for e in plan.agents if e.vault.aws_secret_role})
    rules: list[tuple[str, tuple[str, ...]]] = [
        ("sys/auth", ("read",)), ("sys/mounts", ("read",)), ("sys/policies/acl", ("list",)),
        ("sys/policies/acl/*", ("read",)), (f"auth/{mounts['approle']}/role", ("list",)),
        (f"auth/{mounts['approle']}/role/*", ("list", "read")),
        (f"auth/{mounts['approle']}/role/+/secret-id-accessor/lookup", ("update",)),
        (f"auth/{mounts['cert']}/certs", ("list",)), (f"auth/{mounts['cert']}/certs/*", ("read",)),
        ("auth/token/roles", ("list",)), ("auth/token/roles/*", ("read",)),
        ("identity/entity/id", ("list",)), ("identity/entity/name/*", ("read",)),
        (f"{mounts['database']}/config/*", ("read",)), (f"{mounts['database']}/roles", ("list",)),
        (f"{mounts['database']}/roles/*", ("read",)), ("sys/quotas/rate-limit", ("list",)),
        ("sys/quotas/rate-limit/*", ("read",)), ("auth/token/lookup-self", ("read",)),
        ("auth/token/accessors", ("list", "sudo")), ("auth/token/lookup-accessor", ("update",)),
    ]
    rules += [(f"{mount}/roles/*", ("read",)) for mount in aws]
    return render_policy(f"agentiam inventory --live on {plan.environment}: read-only", merge_rules(rules)).replace(
        "# Generated by agentiam from the reviewed agent spec; do not edit by hand.",
        "# Generated by agentiam from the stack config: what the scan reads, nothing else.")


# The IAM actions the AWS part calls (aws_state.py), for the scanning principal's policy (docs/inventory.md).
AWS_ACTIONS = ("iam:GetAccessKeyLastUsed", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole",
               "iam:GetRolePolicy", "iam:ListAccessKeys", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
               "iam:ListRoles", "iam:ListUsers")


@dataclass(frozen=True)
class ScanOptions:
    tokens: bool = True
    max_key_age_days: int = 90
    timeout: float = 900.0  # seconds the whole scan may take


def canonical_policy(document: Any) -> Any:
    """An IAM policy document in one canonical form: statements as a sorted list, every action, resource,
    principal and condition value as a sorted list (IAM accepts a string or a list for each)."""
    if isinstance(document, str):
        document = json.loads(document)

    def as_list(value: Any) -> list[Any]:
        return sorted(value) if isinstance(value, list) else [value]

    def statement(item: dict[str, Any]) -> dict[str, Any]:
        out = dict(item)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in out:
                out[key] = as_list(out[key])
        if isinstance(out.get("Principal"), dict):
            out["Principal"] = {k: as_list(v) for k, v in out["Principal"].items()}
        if "Condition" in out:
            out["Condition"] = {op: {k: as_list(v) for k, v in values.items()}
                                for op, values in out["Condition"].items()}
        return out

    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return {"Version": document.get("Version"),
            "Statement": sorted((statement(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True))}


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if not isinstance(value, str) else value


class Scan:
    """One live scan of an environment. Build it, then `run()`."""

    def __init__(self, plan: IdentityPlan, *, stacks: Mapping[str, str], platform_stack: str,
                 vault: VaultState | None, aws: AwsState | None, now: dt.datetime, today: dt.date,
                 options: ScanOptions = ScanOptions(), progress: Progress | None = None,
                 skipped: Iterable[tuple[str, str]] = ()):
        self.plan = plan
        self.env = plan.environment
        self.prefix = f"agent-{self.env}-"
        self.stacks = stacks
        self.platform_stack = platform_stack
        self.vault = vault
        self.aws = aws
        self.now = now
        self.today = today
        self.options = options
        self.progress = progress or (lambda _what, _done, _total: None)
        self.deadline = time.monotonic() + options.timeout
        self.report = LiveReport(self.env, vault.address if vault else None, aws.endpoint if aws else None,
                                 now.isoformat(), len(plan.agents))
        self.report.checks += [Check(system, scope, Outcome.SKIPPED, "not requested") for system, scope in skipped]
        self.by_identity = {entry.identity_name: entry for entry in plan.agents}
        self._down: dict[str, str] = {}  # system -> why the rest of it is not checked
        # Read by one part, used by later ones; None while unknown (that part failed): no comparison guesses.
        self._auth_accessors: dict[str, str] | None = None  # auth mount path -> accessor
        self._secret_mounts: set[str] | None = None
        self._role_ids: dict[str, str] = {}  # AppRole role name -> role id (alias names; never shown)
        self._entity_ids: dict[str, AgentPlan] = {}  # entity id -> plan entry

    # -- plumbing -------------------------------------------------------------------------------------

    def _tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlineReached(f"the scan's deadline ({self.options.timeout:g} s) passed")

    def _v(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self._tick()
        assert self.vault is not None
        if method == "read":
            return self.vault.read(path)
        if method == "keys":
            return self.vault.keys(path)
        if method == "key_info":
            return self.vault.key_info(path)
        return self.vault.post(path, body or {})

    def _a(self, method: str, *args: str) -> Any:
        self._tick()
        assert self.aws is not None
        return getattr(self.aws, method)(*args)

    def _part(self, system: str, scope: str, run: Callable[[], str]) -> None:
        if system in self._down:
            self.report.checks.append(Check(system, scope, Outcome.NOT_CHECKED, self._down[system]))
            return
        try:
            detail = run()
        except DeadlineReached:
            # Whichever read noticed (the scan before a request, the adapter during one), one message for all.
            why = f"the scan's deadline ({self.options.timeout:g} s) passed"
            for name in ("vault", "aws"):
                self._down.setdefault(name, why)
            self.report.checks.append(Check(system, scope, Outcome.NOT_CHECKED, why))
        except Unreachable as exc:
            self._down[system] = f"{system} could not be reached: {exc}"
            self.report.checks.append(Check(system, scope, Outcome.FAILED, str(exc)))
        except ServerError as exc:
            self.report.checks.append(Check(system, scope, Outcome.FAILED, str(exc)))
        else:
            self.report.checks.append(Check(system, scope, Outcome.CHECKED, detail))

    def _find(self, kind: Kind, severity: str, system: str, target: str, message: str, fix: str, *,
              agent: str | None = None, field: str = "", expected: Any = None, actual: Any = None) -> None:
        self.report.findings.append(LiveFinding(
            kind, severity, system, target, message, fix, agent, field,
            None if expected is None else _dump(expected), None if actual is None else _dump(actual)))

    def _apply_fix(self, entry: AgentPlan | None = None) -> str:
        stack = self.stacks.get(entry.agent, self.platform_stack) if entry else self.platform_stack
        # --refresh: without it Pulumi compares the program with its own state, not the server
        # (docs/facts.md#pulumi-refresh).
        return f"pulumi up --refresh --stack {stack}"

    def run(self) -> LiveReport:
        started = time.monotonic()
        if self.vault is not None:
            for scope, part in (("auth and secrets mounts", self._vault_mounts),
                                ("ACL policies", self._vault_policies),
                                ("AppRole roles and secret ids", self._vault_approle),
                                ("token roles", self._vault_token_roles),
                                ("certificate roles", self._vault_cert),
                                ("identity entities and aliases", self._vault_entities),
                                ("database roles and connections", self._vault_database),
                                ("AWS secrets engine roles", self._vault_aws_engine),
                                ("rate-limit quotas", self._vault_quotas)):
                self._part("vault", scope, part)
            if self.options.tokens:
                self._part("vault", "tokens (every accessor)", self._vault_tokens)
        if self.aws is not None:
            for scope, part in (("IAM roles of the environment", self._aws_roles),
                                ("permissions boundaries", self._aws_boundaries),
                                ("IAM users and access keys", self._aws_users)):
                self._part("aws", scope, part)
        self.report.findings.sort(key=LiveFinding.sort_key)
        self.report.seconds = time.monotonic() - started
        return self.report

    # -- Vault ----------------------------------------------------------------------------------------

    def _mount_paths(self) -> dict[str, str]:
        """Mount type -> path, from the plan's platform (approle, cert, database) and agents (aws, kv)."""
        return {m.type: m.path for m in self.plan.platform.mounts}

    def _vault_mounts(self) -> str:
        """GET sys/auth and sys/mounts: the stack's mounts exist, have their type and keep the 24h lease ceiling."""
        auth = {k.rstrip("/"): v for k, v in (self._v("read", "sys/auth") or {}).items() if isinstance(v, dict)}
        secrets = {k.rstrip("/"): v for k, v in (self._v("read", "sys/mounts") or {}).items() if isinstance(v, dict)}
        self._auth_accessors = {path: str(info.get("accessor", "")) for path, info in auth.items()}
        self._secret_mounts = set(secrets)
        for mount in self.plan.platform.mounts:
            found = (auth if mount.kind == "auth" else secrets).get(mount.path)
            target = f"{'sys/auth' if mount.kind == 'auth' else 'sys/mounts'}/{mount.path}"
            if found is None:
                self._find(Kind.DRIFTED, "high", "vault", target, f"the {mount.type} mount is missing",
                           self._apply_fix())
                continue
            if found.get("type") != mount.type:
                self._find(Kind.DRIFTED, "high", "vault", target, f"mount type is {found.get('type')}, the plan says "
                           f"{mount.type}", self._apply_fix(), field="type", expected=mount.type,
                           actual=found.get("type"))
            config = found.get("config") or {}
            lockout_off = bool((config.get("user_lockout_config") or {}).get("user_lockout_disable"))
            if mount.user_lockout_disable and not lockout_off:
                self._find(Kind.DRIFTED, "medium", "vault", target, "user lockout is on: anyone holding an agent's "
                           "role id alone can lock the agent out with failed logins (docs/facts.md#vault-approle)",
                           self._apply_fix(), field="user_lockout_disable", expected=True, actual=lockout_off)
            ceiling = int(config.get("max_lease_ttl") or 0)
            if ceiling != mount.max_lease_ttl:
                shown = format_duration(ceiling) if ceiling else "0 (the server default, 768h unless tuned)"
                self._lifetime("vault", target, "max_lease_ttl", mount.max_lease_ttl, ceiling, None,
                               f"the mount's lease ceiling is {shown}, the plan says "
                               f"{format_duration(mount.max_lease_ttl)}")
        return f"{len(self.plan.platform.mounts)} mount(s)"

    def _lifetime(self, system: str, target: str, name: str, expected: int, actual: int, entry: AgentPlan | None,
                  message: str) -> None:
        """A lifetime differing from the plan: long-lived when over 24 hours or unlimited (0), else drifted."""
        unlimited = actual == 0 and expected != 0
        kind = Kind.LONG_LIVED if unlimited or actual > DAY else Kind.DRIFTED
        # A plan's 0 is itself unlimited: any other value there narrows.
        severity = "high" if unlimited or (actual > expected and expected != 0) else "medium"
        self._find(kind, severity, system, target, message, self._apply_fix(entry), agent=entry.agent if entry else
                   None, field=name, expected=expected, actual=actual)

    def _vault_policies(self) -> str:
        """LIST sys/policies/acl, then GET sys/policies/acl/<name> of every planned agent and login policy."""
        names = set(self._v("keys", "sys/policies/acl"))
        planned = {}
        for entry in self.plan.agents:
            planned[entry.vault.policy_name] = (entry, entry.vault.policy_hcl)
            planned[entry.vault.login_policy_name] = (entry, entry.vault.login_policy_hcl)
            planned[entry.vault.mint_policy_name] = (entry, entry.vault.mint_policy_hcl)
        for name in sorted(n for n in names if n.startswith(self.prefix) and n not in planned):
            self._find(Kind.UNDECLARED, "high", "vault", f"sys/policies/acl/{name}",
                       "an ACL policy named like this environment's agents that no spec declares",
                       f"if an agent needs it, declare the agent in a spec; otherwise: vault policy delete {name}")
        for done, (name, (entry, text)) in enumerate(sorted(planned.items()), 1):
            self.progress("Vault policies", done, len(planned))
            path = f"sys/policies/acl/{name}"
            if name not in names:
                self._find(Kind.DRIFTED, "high", "vault", path, "the policy is missing (tokens carrying it get "
                           "nothing, or a later policy of that name gets their power)", self._apply_fix(entry),
                           agent=entry.agent)
                continue
            actual = str((self._v("read", path) or {}).get("policy", ""))
            if actual.strip() != text.strip():
                added = [line.strip() for line in actual.splitlines() if line.strip() and line not in text.splitlines()]
                self._find(Kind.DRIFTED, "high", "vault", path, "the policy text differs from the plan"
                           + (f"; lines not in the plan: {' | '.join(added[:6])}" if added else ""),
                           self._apply_fix(entry), agent=entry.agent, field="policy", expected=text, actual=actual)
        return f"{len(planned)} planned, {len(names)} on the server"

    def _fields(self, system: str, target: str, entry: AgentPlan, expected: Mapping[str, Any],
                actual: Mapping[str, Any], lifetimes: Iterable[str] = (), counts: Iterable[str] = ()) -> None:
        """One finding per field whose value differs (lists compared as sets, None as empty). `lifetimes` (seconds)
        and `counts` (uses) are limits where 0 means unlimited."""
        counts = set(counts)
        lifetimes = set(lifetimes) | counts
        for name, want in expected.items():
            have = actual.get(name)
            if isinstance(want, list):
                have_set, want_set = set(have or []), set(want)
                if have_set == want_set:
                    continue
                widened = bool(have_set - want_set) or (bool(want_set) and not have_set)
                self._find(Kind.DRIFTED, "high" if widened else "medium", system, target,
                           f"{name} is {sorted(have_set) or '[] (no restriction)'}, the plan says {sorted(want_set)}",
                           self._apply_fix(entry), agent=entry.agent, field=name, expected=sorted(want_set),
                           actual=sorted(have_set))
            elif name in lifetimes:
                have_int = int(have or 0)
                if have_int != want:
                    shown = str if name in counts else format_duration
                    self._lifetime(system, target, name, int(want), have_int, entry,
                                   f"{name} is {shown(have_int) if have_int else '0 (unlimited)'}, the plan says "
                                   f"{shown(int(want)) if want else '0'}")
            elif have != want:
                self._find(Kind.DRIFTED, "high", system, target, f"{name} is {have!r}, the plan says {want!r}",
                           self._apply_fix(entry), agent=entry.agent, field=name, expected=want, actual=have)

    def _undeclared_roles(self, listing: Iterable[str], planned: Iterable[str], path: str, what: str,
                          delete: str) -> None:
        planned = set(planned)
        for name in sorted(set(listing) - planned):
            self._find(Kind.UNDECLARED, "high", "vault", f"{path}/{name}", f"{what} that no spec declares "
                       f"(on {path.split('/')[1] if path.startswith('auth/') else path}, which agentiam owns)",
                       f"if an agent needs it, declare it in a spec (agentiam new) and apply; otherwise: "
                       f"{delete.format(path=path, name=name)}")

    def _auth_roles(self, what: str, path: str, planned: Mapping[str, AgentPlan],
                    check: Callable[[str, AgentPlan], None]) -> str:
        """LIST <path> (a login mount's roles): undeclared ones, missing ones, and `check(role path, entry)` of each
        planned role that exists."""
        listing = self._v("keys", path)
        self._undeclared_roles(listing, planned, path, f"an {what}" if what[0] in "AEIOU" else f"a {what}",
                               "vault delete {path}/{name}")
        existing = set(listing)
        for done, (name, entry) in enumerate(sorted(planned.items()), 1):
            self.progress(f"{what}s", done, len(planned))
            if name not in existing:
                self._find(Kind.DRIFTED, "high", "vault", f"{path}/{name}", f"the {what} is missing: the agent "
                           "cannot log in", self._apply_fix(entry), agent=entry.agent)
            else:
                check(f"{path}/{name}", entry)
        return f"{len(planned)} planned, {len(existing)} on the server"

    def _vault_approle(self) -> str:
        """LIST auth/<approle>/role, GET each planned role and its role-id, LIST and look up its secret ids."""
        mount = self._mount_paths().get("approle", "")

        def check(path: str, entry: AgentPlan) -> None:
            plan = entry.vault.approle
            self._fields("vault", path, entry, {
                "token_policies": plan.token_policies, "token_ttl": plan.token_ttl,
                "token_max_ttl": plan.token_max_ttl, "token_explicit_max_ttl": plan.token_explicit_max_ttl,
                "token_type": plan.token_type, "token_no_default_policy": plan.token_no_default_policy,
                "bind_secret_id": plan.bind_secret_id, "secret_id_ttl": plan.secret_id_ttl,
                "secret_id_num_uses": plan.secret_id_num_uses, "secret_id_bound_cidrs": plan.secret_id_bound_cidrs,
                "token_bound_cidrs": plan.token_bound_cidrs, "token_period": 0, "token_num_uses": 0},
                self._v("read", path) or {},
                lifetimes=("token_ttl", "token_max_ttl", "token_explicit_max_ttl", "secret_id_ttl", "token_period"),
                counts=("secret_id_num_uses", "token_num_uses"))
            role_id = (self._v("read", f"{path}/role-id") or {}).get("role_id")
            if role_id:
                self._role_ids[plan.role_name] = str(role_id)
            self._secret_ids(mount, plan.role_name, entry)

        return self._auth_roles("AppRole role", f"auth/{mount}/role",
                                {entry.vault.approle.role_name: entry for entry in self.plan.agents}, check)

    def _vault_token_roles(self) -> str:
        """LIST auth/token/roles, GET auth/token/roles/<name> of every planned role (the working token's).

        Vault's token mount is shared: only roles named like this environment's agents are judged."""
        path = "auth/token/roles"
        planned = {entry.vault.token_role.name: entry for entry in self.plan.agents}
        listing = set(self._v("keys", path))
        for name in sorted(n for n in listing if n.startswith(self.prefix) and n not in planned):
            self._find(Kind.UNDECLARED, "high", "vault", f"{path}/{name}", "a token role named like this "
                       "environment's agents that no spec declares: whoever may create through it gets its tokens",
                       f"if an agent needs it, declare it in a spec (agentiam new) and apply; otherwise: vault "
                       f"delete {path}/{name}")
        for done, (name, entry) in enumerate(sorted(planned.items()), 1):
            self.progress("token roles", done, len(planned))
            target = f"{path}/{name}"
            if name not in listing:
                self._find(Kind.DRIFTED, "high", "vault", target, "the token role is missing: the agent cannot get "
                           "a working token", self._apply_fix(entry), agent=entry.agent)
                continue
            plan = entry.vault.token_role
            self._fields("vault", target, entry, {
                "allowed_policies": plan.allowed_policies, "allowed_entity_aliases": [plan.entity_alias],
                "allowed_policies_glob": [], "orphan": plan.orphan, "renewable": plan.renewable,
                "token_period": plan.token_period, "token_explicit_max_ttl": plan.token_explicit_max_ttl,
                "token_type": plan.token_type, "token_no_default_policy": plan.token_no_default_policy,
                "token_bound_cidrs": plan.token_bound_cidrs, "token_num_uses": 0, "path_suffix": ""},
                self._v("read", target) or {}, lifetimes=("token_period", "token_explicit_max_ttl"),
                counts=("token_num_uses",))
        return f"{len(planned)} planned, {len(listing)} on the server"

    def _secret_ids(self, mount: str, role: str, entry: AgentPlan) -> None:
        """LIST auth/<mount>/role/<role>/secret-id, POST .../secret-id-accessor/lookup for each accessor."""
        path = f"auth/{mount}/role/{role}"
        for accessor in self._v("keys", f"{path}/secret-id"):
            info = self._v("post", f"{path}/secret-id-accessor/lookup", {"secret_id_accessor": accessor})
            if info is None:
                continue  # used or expired between the list and the lookup
            target = f"{path}/secret-id-accessor/{accessor}"
            destroy = (f"vault write {path}/secret-id-accessor/destroy secret_id_accessor={accessor}")
            ttl, uses = int(info.get("secret_id_ttl") or 0), int(info.get("secret_id_num_uses") or 0)
            if entry.status != "active":
                self._find(Kind.DRIFTED, "high", "vault", target, f"a secret id of an agent that is {entry.status} "
                           "(agentiam revoke destroys them)", destroy, agent=entry.agent)
            elif ttl == 0 or ttl > DAY or uses == 0:
                lives = "never expires" if ttl == 0 else f"lives {format_duration(ttl)}"
                self._find(Kind.LONG_LIVED, "high", "vault", target,
                           f"a secret id that {lives} and has {'unlimited uses' if uses == 0 else f'{uses} use(s)'}",
                           destroy, agent=entry.agent, field="secret_id_ttl",
                           expected=entry.vault.approle.secret_id_ttl, actual=ttl)

    def _vault_cert(self) -> str:
        """LIST auth/<cert>/certs, GET auth/<cert>/certs/<name> of every planned role."""
        def check(path: str, entry: AgentPlan) -> None:
            plan = entry.vault.cert
            found = self._v("read", path) or {}
            self._fields("vault", path, entry, {
                "allowed_common_names": plan.allowed_common_names, "token_policies": plan.token_policies,
                "token_ttl": plan.token_ttl, "token_max_ttl": plan.token_max_ttl,
                "token_explicit_max_ttl": plan.token_explicit_max_ttl, "token_type": plan.token_type,
                "token_no_default_policy": plan.token_no_default_policy, "token_num_uses": plan.token_num_uses,
                "token_bound_cidrs": plan.token_bound_cidrs, "token_period": 0},
                found, lifetimes=("token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period"),
                counts=("token_num_uses",))
            ca = self.plan.platform.agent_ca
            if str(found.get("certificate", "")).strip() != ca.pem.strip():
                self._find(Kind.DRIFTED, "high", "vault", path, f"the role trusts another CA than the plan's "
                           f"{ca.path} ({', '.join(c.subject for c in ca.certificates)}): whoever holds that CA's key "
                           "can log in as the agent", self._apply_fix(entry), agent=entry.agent, field="certificate")

        return self._auth_roles("certificate role", f"auth/{self._mount_paths().get('cert', '')}/certs",
                                {entry.vault.cert.role_name: entry for entry in self.plan.agents}, check)

    def _vault_entities(self) -> str:
        """LIST identity/entity/id (names and aliases of every entity in one request), GET identity/entity/name/<name>
        of every planned entity (docs/facts.md#vault-inventory-reads)."""
        accessors = self._auth_accessors or {}
        own = {accessors.get(m.path) for m in self.plan.platform.mounts if m.kind == "auth"} - {None, ""}
        listing = self._v("key_info", "identity/entity/id")
        planned = {entry.vault.entity.name: entry for entry in self.plan.agents}
        for entity_id, info in sorted(listing.items()):
            name = str(info.get("name", ""))
            if name in planned:
                self._entity_ids[entity_id] = planned[name]
                continue
            on_own = [a for a in info.get("aliases") or [] if a.get("mount_accessor") in own]
            if name.startswith(self.prefix) or on_own:
                mounts = sorted({str(a.get("mount_path", "")) for a in on_own})
                why = (f"has login aliases on {', '.join(mounts)}" if on_own else "is named like this environment's "
                       "agents")
                self._find(Kind.UNDECLARED, "high", "vault", f"identity/entity/id/{entity_id}",
                           f"entity {name!r} {why}, and no spec declares it",
                           f"disable it now (vault write identity/entity/id/{entity_id} disabled=true), find who "
                           "uses it in the audit log, then delete it or declare the agent")
        by_name = {str(info.get("name", "")): entity_id for entity_id, info in listing.items()}
        for done, (name, entry) in enumerate(sorted(planned.items()), 1):
            self.progress("identity entities", done, len(planned))
            path = f"identity/entity/name/{name}"
            if name not in by_name:
                self._find(Kind.DRIFTED, "high", "vault", path, "the entity is missing: logins create anonymous "
                           "entities, audit lines no longer name the agent", self._apply_fix(entry), agent=entry.agent)
                continue
            entity = self._v("read", path) or {}
            self._entity(entry, path, entity, self._auth_accessors)
        return f"{len(planned)} planned, {len(listing)} entities on the server"

    def _entity(self, entry: AgentPlan, path: str, entity: Mapping[str, Any],
                accessors: Mapping[str, str] | None) -> None:
        plan = entry.vault.entity
        disabled = bool(entity.get("disabled"))
        self._status(entry, path, disabled)
        if entity.get("metadata") != plan.metadata:
            self._find(Kind.DRIFTED, "medium", "vault", path, "entity metadata differs from the plan (owner, "
                       "expiry or spec digest: audit lines name the wrong owner or an old spec)",
                       self._apply_fix(entry), agent=entry.agent, field="metadata", expected=plan.metadata,
                       actual=entity.get("metadata"))
        if entity.get("policies"):
            self._find(Kind.DRIFTED, "high", "vault", path, f"entity policies {entity.get('policies')} are attached: "
                       "every token of the agent gets them on top of its own policy", self._apply_fix(entry),
                       agent=entry.agent, field="policies", expected=[], actual=entity.get("policies"))
        if accessors is None:
            return  # the mounts could not be read: aliases cannot be told apart (reported with the mounts)
        approle = accessors.get(plan.approle_alias_mount, "")
        token = (accessors.get(plan.token_alias_mount, ""), plan.token_alias_name)
        expected = {(accessors.get(plan.cert_alias_mount, ""), plan.cert_alias_name), token}
        role_id = self._role_ids.get(entry.vault.approle.role_name)
        if role_id:
            expected.add((approle, role_id))
        aliases = {(str(a.get("mount_accessor", "")), str(a.get("name", ""))): str(a.get("mount_path", ""))
                   for a in entity.get("aliases") or []}
        unexplained = {key for key in set(aliases) - expected if role_id or key[0] != approle}
        for accessor, name in sorted(unexplained):
            # An AppRole alias name is a role id (a login factor, docs/facts.md#vault-approle): never shown.
            shown = name if accessor != approle else "(a role id, not shown)"
            self._find(Kind.DRIFTED, "high", "vault", path, f"alias {shown} on {aliases[(accessor, name)]} is not "
                       "the plan's: that login also becomes this agent", "vault delete identity/entity-alias/id/<id> "
                       "(the alias's id: vault read " + path + ")", agent=entry.agent, field="aliases")
        cert = (accessors.get(plan.cert_alias_mount, ""), plan.cert_alias_name)
        missing = [what for what, key in (("certificate", cert), ("AppRole", (approle, role_id or "")),
                                          ("token", token)) if key in expected and key not in aliases]
        if missing:
            self._find(Kind.DRIFTED, "medium", "vault", path, f"the {' and '.join(missing)} login alias is missing: "
                       "those logins (a working token, for the token alias) create an anonymous entity, outside the "
                       "agent's kill switch", self._apply_fix(entry), agent=entry.agent, field="aliases")

    def _status(self, entry: AgentPlan, path: str, disabled: bool) -> None:
        """The entity against the spec's status and expiry (the kill switch's first step is disabling it)."""
        name, stack = entry.agent, self.stacks.get(entry.agent, self.platform_stack)
        revoke = f"agentiam revoke {name} --env {self.env}"
        if entry.status != "active" and not disabled:
            self._find(Kind.DRIFTED, "high", "vault", path, f"the entity is enabled, the spec says {entry.status}: "
                       "its tokens and logins work (a later apply from an older revision, or a hand edit, "
                       "re-enabled it)", f"{revoke} now, then pulumi up --refresh --stack {stack} from the reviewed "
                       "branch", agent=name, field="disabled", expected=True, actual=False)
        elif entry.status == "active" and disabled:
            self._find(Kind.DRIFTED, "high", "vault", path, "the entity is disabled, the spec says active: revoked "
                       "out of band (agentiam revoke?); the next pulumi up re-enables it",
                       f"set `status: revoked` in {entry.source_file} and merge it before the next pulumi up, or "
                       f"pulumi up --refresh --stack {stack} if the agent should work again",
                       agent=name, field="disabled", expected=False, actual=True)
        if entry.status == "active" and not disabled and dt.date.fromisoformat(entry.expires) < self.today:
            self._find(Kind.DRIFTED, "high", "vault", path, f"the spec expired on {entry.expires} and the identity is "
                       "still enabled (validate refuses the spec, so no apply changes it)",
                       f"re-approve (a later `expires` in {entry.source_file}) or {revoke}", agent=name,
                       field="expires", expected=entry.expires)

    def _vault_database(self) -> str:
        """GET <db>/config/<connection> (allowed roles), LIST <db>/roles, GET <db>/roles/<name> of planned roles."""
        platform = self.plan.platform
        mount = self._mount_paths().get("database", "")
        if self._secret_mounts is not None and mount not in self._secret_mounts:
            return "database mount missing (reported with the mounts)"
        for connection in platform.database_connections:
            path = f"{connection.mount}/config/{connection.name}"
            config = self._v("read", path)
            if config is None:
                self._find(Kind.DRIFTED, "high", "vault", path, "the database connection is missing",
                           self._apply_fix())
                continue
            have = set(config.get("allowed_roles") or [])
            if have != set(connection.allowed_roles):
                extra = sorted(have - set(connection.allowed_roles))
                self._find(Kind.DRIFTED, "high" if extra else "medium", "vault", path,
                           f"allowed_roles {sorted(have)}, the plan says {connection.allowed_roles}"
                           + (": roles the plan does not know can draw credentials" if extra else ""),
                           self._apply_fix(), field="allowed_roles", expected=connection.allowed_roles,
                           actual=sorted(have))
        listing = self._v("keys", f"{mount}/roles")
        planned = {(role.mount, role.name): (entry, role) for entry in self.plan.agents
                   for role in entry.vault.database_roles}
        for name in sorted(set(listing) - {name for _, name in planned}):
            owner = self.by_identity.get(max((i for i in self.by_identity if name.startswith(i + "-")), key=len,
                                             default=""))
            if owner is not None:
                self._find(Kind.DRIFTED, "high", "vault", f"{mount}/roles/{name}", f"a database role of "
                           f"{owner.agent}, which is {owner.status} or no longer granted this database here: it "
                           "should be gone", self._apply_fix(owner), agent=owner.agent)
            else:
                self._find(Kind.UNDECLARED, "high", "vault", f"{mount}/roles/{name}",
                           "a database role on agentiam's mount that no spec declares",
                           "if an agent needs it, declare it in its spec; otherwise: "
                           f"vault delete {mount}/roles/{name}")
        existing = set(listing)
        for done, ((role_mount, name), (entry, role)) in enumerate(sorted(planned.items()), 1):
            self.progress("database roles", done, len(planned))
            path = f"{role_mount}/roles/{name}"
            if name not in existing:
                self._find(Kind.DRIFTED, "medium", "vault", path, "the database role is missing",
                           self._apply_fix(entry), agent=entry.agent)
                continue
            self._fields("vault", path, entry, {
                "db_name": role.database, "default_ttl": role.default_ttl, "max_ttl": role.max_ttl,
                "creation_statements": role.creation_statements,
                "revocation_statements": role.revocation_statements},
                self._v("read", path) or {}, lifetimes=("default_ttl", "max_ttl"))
        return f"{len(planned)} planned, {len(existing)} on the server"

    def _vault_aws_engine(self) -> str:
        """GET <aws>/roles/<name> of every planned AWS secrets-engine role (the mount exists beforehand)."""
        planned = [(entry, entry.vault.aws_secret_role) for entry in self.plan.agents if entry.vault.aws_secret_role]
        if not planned:
            return "no AWS secrets engine role planned"
        mount = planned[0][1].mount
        if self._secret_mounts is not None and mount not in self._secret_mounts:
            self._find(Kind.DRIFTED, "high", "vault", f"sys/mounts/{mount}", f"the AWS secrets engine mount {mount} "
                       "the stack config names does not exist: no agent gets AWS credentials",
                       f"mount and configure it (docs/deploy.md, step 1), then pulumi up --stack {self.platform_stack}")
            return "mount missing"
        for done, (entry, role) in enumerate(planned, 1):
            self.progress("AWS secrets engine roles", done, len(planned))
            path = f"{role.mount}/roles/{role.name}"
            found = self._v("read", path)
            if found is None:
                self._find(Kind.DRIFTED, "medium", "vault", path, "the AWS secrets engine role is missing",
                           self._apply_fix(entry), agent=entry.agent)
                continue
            expected: dict[str, Any] = {"credential_type": role.credential_type, "role_arns": role.role_arns,
                                        "default_sts_ttl": role.default_sts_ttl, "max_sts_ttl": role.max_sts_ttl}
            if "session_tags" in found:  # HashiCorp Vault >= 1.17.2 only (docs/facts.md#vault-servers)
                expected["session_tags"] = role.session_tags
            for extra in ("policy_arns", "policy_document", "iam_groups"):
                if found.get(extra):
                    self._find(Kind.DRIFTED, "high", "vault", path, f"{extra} is set: credentials carry permissions "
                               "the plan does not declare", self._apply_fix(entry), agent=entry.agent, field=extra,
                               actual=found.get(extra))
            if found.get("credential_type", role.credential_type) != role.credential_type:
                self._find(Kind.LONG_LIVED, "high", "vault", path, f"credential_type is "
                           f"{found.get('credential_type')}: not STS sessions of the agent's role (an iam_user "
                           "credential is a long-lived access key)", self._apply_fix(entry), agent=entry.agent,
                           field="credential_type", expected=role.credential_type,
                           actual=found.get("credential_type"))
            expected.pop("credential_type")
            self._fields("vault", path, entry, expected, found, lifetimes=("default_sts_ttl", "max_sts_ttl"))
        return f"{len(planned)} planned"

    def _vault_quotas(self) -> str:
        """LIST sys/quotas/rate-limit, GET sys/quotas/rate-limit/<name> of every planned quota."""
        listing = set(self._v("keys", "sys/quotas/rate-limit"))
        planned: dict[str, tuple[AgentPlan | None, Any]] = {
            entry.vault.rate_limit.name: (entry, entry.vault.rate_limit) for entry in self.plan.agents
            if entry.vault.rate_limit}
        planned.update({m.login_rate_limit.name: (None, m.login_rate_limit) for m in self.plan.platform.mounts
                        if m.login_rate_limit})
        for name in sorted(n for n in listing if n.startswith(self.prefix) and n not in planned):
            self._find(Kind.UNDECLARED, "low", "vault", f"sys/quotas/rate-limit/{name}",
                       "a rate-limit quota named like this environment's agents that no spec declares",
                       f"vault delete sys/quotas/rate-limit/{name}")
        for name, (entry, limit) in sorted(planned.items()):
            path = f"sys/quotas/rate-limit/{name}"
            agent = entry.agent if entry else None
            if name not in listing:
                self._find(Kind.DRIFTED, "medium", "vault", path, "the rate-limit quota is missing: "
                           + ("the agent's logins are not limited" if entry else "logins are not limited per address"),
                           self._apply_fix(entry), agent=agent)
                continue
            found = self._v("read", path) or {}
            for key, want in (("rate", limit.rate), ("interval", limit.interval), ("path", limit.path),
                              ("role", limit.role)):
                have = found.get(key)
                if (float(have or 0) != float(want)) if key in ("rate", "interval") else (have or "") != want:
                    self._find(Kind.DRIFTED, "medium", "vault", path, f"{key} is {have!r}, the plan says {want!r}",
                               self._apply_fix(entry), agent=agent, field=key, expected=want, actual=have)
        return f"{len(planned)} planned, {len(listing)} on the server"

    def _vault_tokens(self) -> str:
        """GET auth/token/lookup-self (the scan's own token is left out), LIST auth/token/accessors, then POST
        auth/token/lookup-accessor for each: tokens without expiry or over 24 hours, agent tokens minted outside the
        agent's login, tokens of inactive agents (what a lookup says: docs/facts.md#vault-inventory-reads)."""
        own_accessor = str((self._v("read", "auth/token/lookup-self") or {}).get("accessor", ""))
        accessors = [a for a in self._v("keys", "auth/token/accessors") if a != own_accessor]
        mounts = {f"auth/{m.path}/" for m in self.plan.platform.mounts if m.kind == "auth"}
        policies = {p: entry for entry in self.plan.agents
                    for p in (entry.vault.policy_name, entry.vault.login_policy_name, entry.vault.mint_policy_name)}
        entities = self._entity_ids
        for done, accessor in enumerate(accessors, 1):
            self.progress("Vault tokens", done, len(accessors))
            info = self._v("post", "auth/token/lookup-accessor", {"accessor": accessor})
            if info is None:
                continue  # expired or revoked between the list and the lookup
            self._token(accessor, info, mounts, policies, entities)
        return f"{len(accessors)} token(s)"

    def _token(self, accessor: str, info: Mapping[str, Any], mounts: set[str], policies: Mapping[str, AgentPlan],
               entities: Mapping[str, AgentPlan]) -> None:
        target = f"auth/token/accessors/{accessor}"
        revoke = f"vault token revoke -accessor {accessor}"
        held = [str(p) for p in info.get("policies") or []]
        path = str(info.get("path", ""))
        entry = entities.get(str(info.get("entity_id") or "")) or next(
            (policies[p] for p in held if p in policies), None)
        agent_named = [p for p in held if p.startswith(self.prefix)]
        explicit_max = int(info.get("explicit_max_ttl") or 0)
        # A periodic token without an explicit max renews forever: as good as no expiry.
        never = not info.get("expire_time") or (int(info.get("period") or 0) > 0 and not explicit_max)
        lifetime = int(info.get("creation_ttl") or info.get("ttl") or 0)
        long = never or lifetime > DAY or explicit_max > DAY
        lives = "never expires" if never else f"was issued for {format_duration(lifetime)}"
        if entry is not None or agent_named:
            name = entry.agent if entry else None
            # The logins (certificate, AppRole mint token) and the working token, through the agent's own token role.
            own_role = entry is not None and path == f"auth/token/create/{entry.vault.token_role.name}"
            if not own_role and not any(path.startswith(m) for m in mounts):
                self._find(Kind.UNDECLARED, "high", "vault", target, f"a token carrying {', '.join(held)}, minted "
                           f"through {path or 'an unknown path'}, not the agent's certificate + secret login "
                           f"({lives})", f"{revoke}; find who minted it in the audit log (accessor {accessor})",
                           agent=name)
            elif long:
                self._find(Kind.LONG_LIVED, "high", "vault", target, f"an agent token that {lives} (the plan caps "
                           "agent tokens at 24h)", revoke, agent=name)
            if entry is not None and entry.status != "active":
                self._find(Kind.DRIFTED, "high", "vault", target, f"a live token of {entry.agent}, which is "
                           f"{entry.status}", f"agentiam revoke {entry.agent} --env {self.env}", agent=entry.agent)
            return
        if held == ["root"]:
            self._find(Kind.LONG_LIVED, "high", "vault", target, f"a root token ({lives}, created through "
                       f"{path or 'an unknown path'})", f"{revoke} once the task it was made for is done")
        elif long:
            self._find(Kind.LONG_LIVED, "medium", "vault", target, f"a token that {lives}, carrying "
                       f"{', '.join(held) or 'no policy'} (display name {info.get('display_name', '')!r}): a "
                       "standing credential outside agentiam, often automation",
                       f"give the automation an agent identity (agentiam new), then {revoke}")

    # -- AWS ------------------------------------------------------------------------------------------

    def _aws_roles(self) -> str:
        """iam:ListRoles (every page), then per planned role iam:GetRole, ListRolePolicies + GetRolePolicy and
        ListAttachedRolePolicies."""
        roles = self._a("roles")
        path = f"/agentiam/{self.env}/"
        planned = {entry.aws.role_name: entry for entry in self.plan.agents}
        existing = {str(r.get("RoleName")): r for r in roles}
        for name, role in sorted(existing.items()):
            if name in planned:
                continue
            if str(role.get("Path", "")) == path or name.startswith(self.prefix):
                self._find(Kind.UNDECLARED, "high", "aws", str(role.get("Arn", name)),
                           f"an IAM role {'under ' + path if role.get('Path') == path else 'named like an agent'} "
                           "that no spec declares", f"if an agent needs it, declare it in a spec; otherwise remove its "
                           f"policies and: aws iam delete-role --role-name {name}")
        for done, (name, entry) in enumerate(sorted(planned.items()), 1):
            self.progress("IAM roles", done, len(planned))
            if name not in existing:
                self._find(Kind.DRIFTED, "high", "aws", entry.aws.role_arn, "the IAM role is missing",
                           self._apply_fix(entry), agent=entry.agent)
                continue
            if str(existing[name].get("Path", "")) != entry.aws.role_path:
                self._find(Kind.DRIFTED, "medium", "aws", str(existing[name].get("Arn", name)), f"the role's path is "
                           f"{existing[name].get('Path')}, the plan says {entry.aws.role_path} (the log routing and "
                           "inventory find agent roles by it)", self._apply_fix(entry), agent=entry.agent,
                           field="path", expected=entry.aws.role_path, actual=existing[name].get("Path"))
            self._aws_role(entry, self._a("role", name) or {})
        return f"{len(planned)} planned, {len(existing)} role(s) in the account"

    def _aws_role(self, entry: AgentPlan, role: Mapping[str, Any]) -> None:
        plan = entry.aws
        arn = plan.role_arn
        name = plan.role_name
        fix = self._apply_fix(entry)
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary != plan.boundary_policy_arn:
            self._find(Kind.DRIFTED, "high", "aws", arn, "the permissions boundary is "
                       + ("removed: nothing caps the role" if not boundary else f"{boundary}, not the plan's"),
                       f"aws iam put-role-permissions-boundary --role-name {name} --permissions-boundary "
                       f"{plan.boundary_policy_arn} now; then {fix}", agent=entry.agent,
                       field="permissions_boundary", expected=plan.boundary_policy_arn, actual=boundary)
        session = int(role.get("MaxSessionDuration") or 3600)
        if session != plan.max_session_duration:
            self._find(Kind.DRIFTED, "high" if session > plan.max_session_duration else "medium", "aws", arn,
                       f"MaxSessionDuration is {format_duration(session)}, the plan says "
                       f"{format_duration(plan.max_session_duration)}",
                       f"aws iam update-role --role-name {name} --max-session-duration {plan.max_session_duration} "
                       f"now; then {fix}", agent=entry.agent, field="max_session_duration",
                       expected=plan.max_session_duration, actual=session)
        trust = role.get("AssumeRolePolicyDocument")
        if trust is not None and canonical_policy(trust) != canonical_policy(plan.trust_policy):
            self._find(Kind.DRIFTED, "high", "aws", arn, "the trust policy differs from the plan: someone else may "
                       "assume the role", fix, agent=entry.agent, field="trust_policy", expected=plan.trust_policy,
                       actual=trust)
        tags = {str(t.get("Key")): str(t.get("Value")) for t in role.get("Tags") or []}
        changed = sorted(k for k, v in entry.tags.items() if tags.get(k) != v)
        if changed:
            self._find(Kind.DRIFTED, "low", "aws", arn, f"tags {', '.join(changed)} differ from the plan (an older "
                       "spec applied, or edited by hand)", fix, agent=entry.agent, field="tags",
                       expected={k: entry.tags[k] for k in changed}, actual={k: tags.get(k) for k in changed})
        inline = self._a("role_policies", name)
        self._inline(entry, inline)
        for attached in self._a("attached_policies", name):
            self._find(Kind.DRIFTED, "high", "aws", arn, f"managed policy {attached} is attached: permissions no spec "
                       "declares", f"aws iam detach-role-policy --role-name {name} --policy-arn {attached}",
                       agent=entry.agent, field="attached_policies", actual=attached)

    def _inline(self, entry: AgentPlan, inline: Mapping[str, Any]) -> None:
        """The least-privilege and kill-switch inline policies against the plan and the spec's status."""
        plan = entry.aws
        arn, name = plan.role_arn, plan.role_name
        fix = self._apply_fix(entry)
        revoke = f"agentiam revoke {entry.agent} --env {self.env}"
        for extra in sorted(set(inline) - {plan.inline_policy_name, plan.kill_switch_policy_name}):
            self._find(Kind.DRIFTED, "high", "aws", arn, f"inline policy {extra} is not the plan's",
                       f"aws iam delete-role-policy --role-name {name} --policy-name {extra}", agent=entry.agent,
                       field="inline_policies", actual=inline[extra])
        least = inline.get(plan.inline_policy_name)
        if plan.inline_policy is None and least is not None:
            self._find(Kind.DRIFTED, "high", "aws", arn, f"inline policy {plan.inline_policy_name} exists, the plan "
                       "grants no AWS action", fix, agent=entry.agent, field=plan.inline_policy_name, actual=least)
        elif plan.inline_policy is not None and least is None:
            self._find(Kind.DRIFTED, "medium", "aws", arn, f"inline policy {plan.inline_policy_name} is missing",
                       fix, agent=entry.agent, field=plan.inline_policy_name, expected=plan.inline_policy)
        elif plan.inline_policy is not None and canonical_policy(least) != canonical_policy(plan.inline_policy):
            self._find(Kind.DRIFTED, "high", "aws", arn, f"inline policy {plan.inline_policy_name} differs from the "
                       "plan", fix, agent=entry.agent, field=plan.inline_policy_name, expected=plan.inline_policy,
                       actual=least)
        switch = inline.get(plan.kill_switch_policy_name)
        state = _kill_switch_state(switch)
        if entry.status != "active":
            if state != "unconditional":
                shown = ("missing" if state is None else f"only denies sessions issued before {state}" if state !=
                         "altered" else "altered: not a deny-all")
                self._find(Kind.DRIFTED, "high", "aws", arn, f"the kill switch of a {entry.status} agent is {shown}: "
                           "sessions the engine issues can act", f"{revoke} now, then {fix}", agent=entry.agent,
                           field=plan.kill_switch_policy_name, expected=KILL_SWITCH_POLICY, actual=switch)
        elif state == "unconditional":
            self._find(Kind.DRIFTED, "medium", "aws", arn, "a deny-all kill switch is attached, the spec says active",
                       f"if the agent was cut off on purpose, set its status in {entry.source_file}; otherwise {fix}",
                       agent=entry.agent, field=plan.kill_switch_policy_name, actual=switch)
        elif state is not None:
            self._find(Kind.DRIFTED, "high", "aws", arn, f"agentiam revoke cut this agent off (sessions before "
                       f"{state} denied) but its spec still says active: an apply re-enables its Vault entity and "
                       "new sessions work", f"set `status: revoked` in {entry.source_file}, merge it and "
                       f"{fix}; run {revoke} again now if the agent must stay cut off", agent=entry.agent,
                       field=plan.kill_switch_policy_name, actual=switch)

    def _aws_boundaries(self) -> str:
        """iam:GetPolicy + GetPolicyVersion (default version) of every planned boundary."""
        boundaries = self.plan.platform.boundaries
        for boundary in boundaries:
            document = self._a("policy_document", boundary.policy_arn)
            fix = (f"pulumi up --refresh --stack {self.platform_stack} (restores the boundary every agent of the "
                   "class depends on)")
            if document is None:
                self._find(Kind.DRIFTED, "high", "aws", boundary.policy_arn, f"the {boundary.function} boundary is "
                           "missing: roles naming it cannot be created", fix)
            elif canonical_policy(document) != canonical_policy(boundary.policy):
                self._find(Kind.DRIFTED, "high", "aws", boundary.policy_arn, f"the {boundary.function} boundary "
                           "differs from the plan: it caps every agent of the class", fix, field="policy",
                           expected=boundary.policy, actual=document)
        return f"{len(boundaries)} boundary policies"

    def _aws_users(self) -> str:
        """iam:ListUsers (every page), iam:ListAccessKeys per user, iam:GetAccessKeyLastUsed per active key."""
        users = self._a("users")
        keys = 0
        for done, user in enumerate(users, 1):
            self.progress("IAM users", done, len(users))
            name = str(user.get("UserName", ""))
            arn = str(user.get("Arn", name))
            if name.startswith("agent-") or str(user.get("Path", "")).startswith("/agentiam/"):
                self._find(Kind.UNDECLARED, "high", "aws", arn, "an IAM user named like an agent: agents get STS "
                           "sessions from Vault, never users", f"move the agent to a spec, then remove the user's keys "
                           f"and policies and: aws iam delete-user --user-name {name}")
            for key in self._a("access_keys", name):
                if key.get("Status") != "Active":
                    continue
                keys += 1
                self._access_key(name, arn, key, self._a("key_last_used", name, str(key.get("AccessKeyId"))))
        return f"{len(users)} user(s), {keys} active key(s)"

    def _access_key(self, user: str, arn: str, key: Mapping[str, Any], last: Mapping[str, Any]) -> None:
        key_id = str(key.get("AccessKeyId"))
        created = _as_datetime(key.get("CreateDate"))
        age = (self.now - created).days if created else None
        used = _as_datetime(last.get("LastUsedDate"))
        service = last.get("ServiceName")
        use = (f"last used {used.date().isoformat()} ({(self.now - used).days} day(s) ago) on {service}"
               if used else "never used")
        old = age is not None and age > self.options.max_key_age_days
        self._find(Kind.LONG_LIVED, "high" if old else "medium", "aws", arn,
                   f"access key {key_id} of IAM user {user}: {age if age is not None else '?'} day(s) old"
                   + (f" (over {self.options.max_key_age_days})" if old else "") + f", {use}",
                   f"if automation uses it, give it an agent identity (agentiam new) and move it over; then aws iam "
                   f"update-access-key --user-name {user} --access-key-id {key_id} --status Inactive and, once "
                   f"nothing breaks, aws iam delete-access-key --user-name {user} --access-key-id {key_id}",
                   field="access_key", actual=key_id)


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _kill_switch_state(document: Any) -> str | None:
    """None (absent), "unconditional" (the plan's deny-all), the cut-off of `agentiam revoke`'s conditional deny,
    or "altered"."""
    if document is None:
        return None
    canonical = canonical_policy(document)
    if canonical == canonical_policy(KILL_SWITCH_POLICY):
        return "unconditional"
    statements = canonical["Statement"]
    if len(statements) == 1:
        statement = statements[0]
        cutoff = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
        if (statement.get("Effect") == "Deny" and statement.get("Action") == ["*"]
                and statement.get("Resource") == ["*"] and cutoff and len(statement["Condition"]) == 1):
            return str(cutoff[0])
    return "altered"


def exit_code(report: LiveReport) -> int:
    """2 when something requested could not be read, else 1 when anything was found, else 0."""
    if not report.complete:
        return 2
    return 1 if report.findings else 0
