"""What an agent x environment is granted, as the plan says it, each grant traced back to the spec line it comes from.

The plan decides what a grant is (the inline policy's statements, the Vault policy's paths, the database roles);
this module only matches log records against it and finds the spec field that produced it, with the plan's own
functions (`statement_sid`, `fill`, `kv_rules`), so a reviewer and `--suggest` know which line to change.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import lru_cache

from agentiam.environment.model import EnvironmentConfig
from agentiam.plan.locate import database_path, statement_path
from agentiam.plan.effective import fill
from agentiam.plan.model import AgentPlan
from agentiam.plan.vault_policy import kv_rules
from agentiam.spec.source import PathPart, field_name
from agentiam.spec.validate import LoadedSpec

# Vault operations and the policy capability each needs (a `create` on a path that exists is logged as `update`).
OPERATION_CAPABILITY = {"read": "read", "list": "list", "create": "create", "update": "update", "delete": "delete",
                        "patch": "patch"}
SYSTEMS = ("aws", "kv", "database")


@lru_cache(maxsize=4096)
def action_regex(pattern: str) -> re.Pattern[str]:
    """IAM action pattern (`s3:Get*`, case-insensitive) as a regex over lower-case action names."""
    return re.compile(fnmatch.translate(pattern.lower()))


@lru_cache(maxsize=4096)
def resource_regex(pattern: str) -> re.Pattern[str]:
    """IAM resource pattern: `*` any run of characters (`/` too), `?` one character, case-sensitive."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
                      re.DOTALL)


@lru_cache(maxsize=4096)
def vault_path_regex(pattern: str) -> re.Pattern[str]:
    """Vault policy path: a trailing `*` is a prefix, `+` one path segment."""
    glob = pattern.endswith("*")
    body = pattern[:-1] if glob else pattern
    text = "".join("[^/]+" if c == "+" else re.escape(c) for c in body)
    return re.compile(text + (".*" if glob else "") + r"\Z", re.DOTALL)


@dataclass
class Grant:
    """One judged grant: an AWS action of a statement, a KV capability on a path, a database role."""

    key: str  # unique within the agent x environment
    system: str  # aws | kv | database
    subject: str  # what is granted, for people
    spec_path: tuple[PathPart, ...]  # the spec field that grants it
    field: str  # that field's name (`permissions.aws[read-invoices].actions[s3:GetObject]`)
    line: int
    column: int
    action: str = ""  # aws: the action pattern; kv/database: the capability needed
    resources: tuple[str, ...] = ()  # aws: resource patterns; kv/database: the Vault path pattern
    since: float | None = None  # since when the spec grants it in this environment (git), None if unknown
    used: bool = False


MAX_CACHED = 4096  # look-ups remembered per agent (records repeat the same few actions and paths)


@dataclass
class AgentGrants:
    """An agent x environment's judged grants, and every rule its tokens and role may use."""

    grants: list[Grant] = field(default_factory=list)
    statements: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (actions, resources) per statement
    vault_rules: dict[str, list[str]] = field(default_factory=dict)  # every path of its policies -> capabilities
    _by_action: dict[str, list[Grant]] = field(default_factory=dict)
    _vault: dict[tuple[str, str], tuple[list[Grant], bool]] = field(default_factory=dict)

    def _granting(self, action: str) -> list[Grant]:
        found = self._by_action.get(action)
        if found is None:
            if len(self._by_action) >= MAX_CACHED:
                self._by_action.clear()
            lower = action.lower()
            found = self._by_action[action] = [g for g in self.grants
                                               if g.system == "aws" and action_regex(g.action).match(lower)]
        return found

    def aws_match(self, action: str, resource: str) -> list[Grant]:
        """Grants an allowed AWS call used. Without a resource, or when no resource pattern matches the one the
        record names (CloudTrail names the bucket and the object of an object call, in either order), every
        statement granting the action counts: claiming a grant unused must never rest on a guess."""
        by_action = self._granting(action)
        if resource and by_action:
            exact = [g for g in by_action if any(resource_regex(r).match(resource) for r in g.resources)]
            if exact:
                return exact
        return by_action

    def aws_declared(self, action: str) -> bool:
        """Whether any statement of the plan allows the action at all."""
        if self._granting(action):
            return True
        lower = action.lower()
        return any(action_regex(a).match(lower) for actions, _ in self.statements for a in actions)

    def vault(self, operation: str, path: str) -> tuple[list[Grant], bool]:
        """(grants an allowed Vault request used, whether the plan's policies allow it at all)."""
        key = (operation, path)
        found = self._vault.get(key)
        if found is None:
            if len(self._vault) >= MAX_CACHED:
                self._vault.clear()
            found = self._vault[key] = (self.vault_match(operation, path), self.vault_declared(operation, path))
        return found

    def vault_match(self, operation: str, path: str) -> list[Grant]:
        capability = OPERATION_CAPABILITY.get(operation)
        return [g for g in self.grants if g.system != "aws" and capability == g.action
                and vault_path_regex(g.resources[0]).match(path)]

    def vault_declared(self, operation: str, path: str) -> bool:
        """Whether the plan's policies allow the operation on the path (a `create` is allowed by `update` too only
        in the sense Vault gives it: both capabilities are looked for)."""
        capability = OPERATION_CAPABILITY.get(operation, operation)
        wanted = {capability, "update"} if capability == "create" else {capability}
        return any(vault_path_regex(rule).match(path) and wanted & set(caps) for rule, caps in self.vault_rules.items())


def _located(loaded: LoadedSpec | None, path: tuple[PathPart, ...]) -> tuple[str, int, int]:
    if loaded is None:
        return ".".join(map(str, path)), 1, 1
    line, column = loaded.document.position(path)
    return field_name(loaded.document.data, path), line, column


def agent_grants(entry: AgentPlan, loaded: LoadedSpec | None, env: EnvironmentConfig | None) -> AgentGrants:
    """The judged grants of one plan entry (none while the agent is not active: its plan grants nothing then)."""
    result = AgentGrants()
    # the working token's policy, the certificate token's and the AppRole (mint) token's: every token of the agent
    for rules in (entry.vault.policy_rules, entry.vault.login_policy_rules, entry.vault.mint_policy_rules):
        for path, caps in rules.items():
            result.vault_rules[path] = sorted(set(caps) | set(result.vault_rules.get(path, [])))
    spec = loaded.spec if loaded is not None else None
    for statement in entry.aws.statements():
        sid, actions, resources = statement.sid, list(statement.actions), list(statement.resources)
        result.statements.append((actions, resources))
        for action in actions:
            spec_path = statement_path(spec, sid, action)
            name, line, column = _located(loaded, spec_path)
            result.grants.append(Grant(f"aws:{sid}:{action}", "aws", f"{action} on {', '.join(resources)}",
                                       spec_path, name, line, column, action=action, resources=tuple(resources)))
    for role in entry.vault.database_roles:
        spec_path = database_path(spec, role.database, role.access)
        name, line, column = _located(loaded, spec_path)
        result.grants.append(Grant(f"database:{role.name}", "database", f"{role.database} ({role.access})",
                                   spec_path, name, line, column, action="read",
                                   resources=(f"{role.mount}/creds/{role.name}",)))
    if spec is not None and env is not None and entry.status == "active":
        for index, kv in enumerate(spec.permissions.kv):
            rules = kv_rules(env.vault.kv_mount, fill(kv.path, spec, env), kv.capabilities)
            for cap_index, capability in enumerate(kv.capabilities):
                path = next(p for p, caps in rules if capability in caps)
                spec_path = ("permissions", "kv", index, "capabilities", cap_index)
                name, line, column = _located(loaded, spec_path)
                result.grants.append(Grant(f"kv:{path}:{capability}", "kv", f"{capability} on {path}", spec_path,
                                           name, line, column, action=capability, resources=(path,)))
    return result
