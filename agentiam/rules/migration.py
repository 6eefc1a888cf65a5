"""AGT046: a legacy credential is never one agentiam gives an agent (docs/migrate.md).

`agentiam migrate revoke-legacy` deletes the AppRole roles a spec lists as legacy. Listed by mistake or on purpose,
an agent's own role (on the environment's AppRole mount, or named `agent-<env>-...` anywhere) would be another
agent's login cut. The same test runs again in revoke-legacy before anything is touched (`foreign_to_agentiam`).
"""

from __future__ import annotations

from collections.abc import Iterator

from agentiam.environment.model import EnvironmentConfig
from agentiam.findings import Finding, Severity
from agentiam.plan import names
from agentiam.rules.base import Rule, SpecContext


def agentiam_own(mount: str, role: str, env: EnvironmentConfig) -> str | None:
    """Why an AppRole role is agentiam's own in `env` (and so never legacy), or None."""
    vault = env.vault
    if mount.strip("/") in (vault.approle_mount, vault.cert_mount):
        kind = "AppRole" if mount.strip("/") == vault.approle_mount else "cert"
        return f"auth/{mount} is the {env.name} environment's own {kind} mount, where every role is an agent's login"
    prefix = names.identity_name("", env.name)
    if role.startswith(prefix):
        return f"{role} is named like an agent identity of {env.name} ({prefix}<agent>)"
    return None


def _check(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    migration = ctx.loaded.spec.migration
    if migration is None:
        return
    for env_name, here in migration.environments.items():
        env = ctx.environments.get(env_name)
        if env is None:
            continue  # AGT003 reports the missing stack config
        for i, role in enumerate(here.legacy.vault_roles):
            why = agentiam_own(role.mount, role.role, env)
            if why is not None:
                yield ctx.finding(rule, ("migration", "environments", env_name, "legacy", "vault_roles", i),
                                  f"{why}: a legacy role is one the agent used before agentiam; revoke-legacy would "
                                  "delete this one")


NOT_AGENTIAM_OWN = Rule(
    id="AGT046", severity=Severity.ERROR, title="Legacy credentials are never agentiam's own",
    rationale="revoke-legacy deletes the legacy roles a spec lists: an agent's own login role listed there would cut "
              "that agent off.",
    check=_check)
