"""Which spec line decides a value in one environment: the spec's own field or an `overrides.<env>` entry.

The one place that answers it, next to `agentiam.plan.effective` which applies the same precedence: rules report
on the element a reviewer must edit (a value set by an override on `overrides.prod.credentials.token_ttl`, not on
the spec-wide default), and the diff annotates each change on the line that causes it (`Locator`), by natural key
(an action, a resource, a KV path, a database, an egress host), never by list position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from agentiam.plan.build import statement_sid
from agentiam.plan.effective import fill
from agentiam.spec.model import STATUS_ORDER, AgentSpec, Network
from agentiam.spec.source import PathPart

if TYPE_CHECKING:
    from agentiam.environment.model import EnvironmentConfig
    from agentiam.spec.validate import LoadedSpec

Path = tuple[PathPart, ...]


def credential_values(spec: AgentSpec, field: str) -> Iterator[tuple[Path, int]]:
    """(path, value) of `credentials.<field>` and of every environment override that sets it."""
    yield ("credentials", field), getattr(spec.credentials, field)
    for env, override in spec.overrides.items():
        if override.credentials is not None and getattr(override.credentials, field) is not None:
            yield ("overrides", env, "credentials", field), getattr(override.credentials, field)


def credential_path(spec: AgentSpec, env: str, field: str) -> Path:
    """The path that decides `credentials.<field>` in `env` (an override sets it field by field)."""
    override = spec.overrides.get(env)
    if override is not None and override.credentials is not None and getattr(override.credentials, field) is not None:
        return ("overrides", env, "credentials", field)
    return ("credentials", field)


def network_path(spec: AgentSpec, env: str) -> tuple[Path, Network]:
    """The path and value of the `network` section that applies in `env` (an override replaces it whole)."""
    override = spec.overrides.get(env)
    if override is not None and override.network is not None:
        return ("overrides", env, "network"), override.network
    return ("network",), spec.network


def status_path(spec: AgentSpec, env: str) -> Path:
    """The path that decides the status in `env`: an override only tightens, so it decides only when stricter."""
    override = spec.overrides.get(env)
    if override is not None and override.status is not None and \
            STATUS_ORDER.index(override.status) >= STATUS_ORDER.index(spec.status):
        return ("overrides", env, "status")
    return ("status",)


def network_sources(spec: AgentSpec) -> Iterator[tuple[Path, Network, tuple[str, ...]]]:
    """(path, network, environments it applies to): the spec's `network` and each override that replaces it."""
    replaced = {env for env, o in spec.overrides.items() if o.network is not None}
    default_envs = tuple(env for env in spec.environments if env not in replaced)
    if default_envs:
        yield ("network",), spec.network, default_envs
    for env in spec.environments:
        override = spec.overrides.get(env)
        if override is not None and override.network is not None:
            yield ("overrides", env, "network"), override.network, (env,)


def statement_path(spec: AgentSpec | None, sid: str, action: str | None = None) -> Path:
    """The AWS statement whose IAM Sid (`agentiam.plan.build.statement_sid`) is `sid`, at the action if it lists
    it; the Sid alone when no statement has it (no spec, or agentiam's own)."""
    index = next((i for i, g in enumerate(spec.permissions.aws) if statement_sid(g.sid) == sid), None) \
        if spec is not None else None
    if spec is None or index is None:
        return ("permissions", "aws", sid)
    actions = spec.permissions.aws[index].actions
    return ("permissions", "aws", index, "actions", actions.index(action)) if action in actions \
        else ("permissions", "aws", index)


def database_path(spec: AgentSpec | None, database: str, access: str) -> Path:
    """The database grant giving `access` to `database` (the database's name when no grant does)."""
    index = next((i for i, g in enumerate(spec.permissions.databases)
                  if g.database == database and g.access.value == access), None) if spec is not None else None
    return ("permissions", "databases", index if index is not None else database)


class Locator:
    """The spec line behind a plan value of one agent in one environment, as `{line, column, field}` keyword
    arguments of a diff change; empty when there is no spec to point at (a removed agent's base, a test)."""

    def __init__(self, loaded: LoadedSpec | None, env: EnvironmentConfig | None):
        self.loaded, self.env = loaded, env

    def at(self, path: Path) -> dict[str, Any]:
        if self.loaded is None:
            return {}
        finding = self.loaded.document.finding("DIFF", path, "")
        return {"line": finding.line, "column": finding.column, "field": finding.path}

    @property
    def spec(self) -> AgentSpec | None:
        return self.loaded.spec if self.loaded else None

    def _fill(self, template: str) -> str:
        return fill(template, self.spec, self.env) if self.spec and self.env else template

    def aws(self, action: str, resource: str | None = None) -> dict[str, Any]:
        """The action in the statement that grants it (on `resource`, if given)."""
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.aws):
            filled = [self._fill(r) for r in grant.resources]
            for j, granted in enumerate(grant.actions):
                if granted.lower() == action.lower() and (resource is None or resource in filled):
                    return self.at(("permissions", "aws", i, "actions", j))
        return self.at(("permissions", "aws"))

    def resource(self, action: str, resource: str) -> dict[str, Any]:
        """The resource line of the statement granting `action` on `resource`."""
        if self.spec is None:
            return {}
        resource = resource.split(" (also in account", 1)[0]
        for i, grant in enumerate(self.spec.permissions.aws):
            if any(a.lower() == action.lower() for a in grant.actions):
                for j, template in enumerate(grant.resources):
                    if self._fill(template) == resource:
                        return self.at(("permissions", "aws", i, "resources", j))
        return self.aws(action)

    def kv(self, vault_path: str) -> dict[str, Any]:
        """The KV grant whose path the Vault policy path serves (`<mount>/data/<path>` or `/metadata/`)."""
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.kv):
            filled = self._fill(grant.path)
            if vault_path.endswith(("/data/" + filled, "/metadata/" + filled)):
                return self.at(("permissions", "kv", i))
        return self.at(("permissions",))

    def database(self, name: str) -> dict[str, Any]:
        if self.spec is None:
            return {}
        for i, grant in enumerate(self.spec.permissions.databases):
            if grant.database == name:
                return self.at(("permissions", "databases", i, "access"))
        return self.at(("permissions", "databases"))

    def credential(self, name: str) -> dict[str, Any]:
        if self.spec is None or self.env is None:
            return self.at(("credentials", name))
        return self.at(credential_path(self.spec, self.env.name, name))

    def network(self, what: str, host: str | None = None) -> dict[str, Any]:
        """`what` is `egress` or `vault_login_rate`; the environment's network override replaces the whole section."""
        if self.spec is None:
            return {}
        base, network = network_path(self.spec, self.env.name) if self.env else (("network",), self.spec.network)
        if what == "egress" and host is not None:
            for i, endpoint in enumerate(network.egress):
                if endpoint.host == host:
                    return self.at(base + ("egress", i))
        return self.at(base + (what,))

    def status(self) -> dict[str, Any]:
        if self.spec is None or self.env is None:
            return self.at(("status",))
        return self.at(status_path(self.spec, self.env.name))
