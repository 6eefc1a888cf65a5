"""What a Vault or OpenBao server of a given flavor and version can do, as far as agentiam relies on it.

The stack config names the server (`vault.flavor`, `vault.version`); the plan chooses session tags, trust
conditions and the audit device's management from these answers, and `agentiam doctor` compares them with the
live server. Every answer cites where it was read in the vendors' source (docs/facts.md#vault-servers).
"""

from __future__ import annotations

from typing import Literal

Flavor = Literal["hashicorp", "openbao"]
FLAVORS: tuple[Flavor, ...] = ("hashicorp", "openbao")
Version = tuple[int, int, int]

# The oldest servers with every feature the program registers: the AppRole mount's user-lockout setting on its
# tune path (HashiCorp Vault 1.13) and role-scoped rate-limit quotas; OpenBao forked from Vault 1.14.
MINIMUM: dict[Flavor, Version] = {"hashicorp": (1, 13, 0), "openbao": (2, 0, 0)}
# `session_tags` on AWS secrets-engine roles: HashiCorp Vault >= 1.17.2 (builtin/logical/aws/path_roles.go).
# OpenBao's AWS plugin (openbao-plugins, secrets/aws/path_roles.go) has no such field, and Vault stores a role
# without the fields it does not know, answering with a warning only.
_SESSION_TAGS_SINCE: dict[Flavor, Version | None] = {"hashicorp": (1, 17, 2), "openbao": None}
# OpenBao 2.3.2 refuses `sys/audit` through the API unless the server config sets
# `unsafe_allow_api_audit_creation` (CHANGELOG 2.3.2, internal/vault/logical_system.go); audit devices declared
# in the server config file exist since OpenBao 2.4.0 (CHANGELOG 2.4.0). HashiCorp Vault enables audit devices
# only through `sys/audit`.
_API_AUDIT_REFUSED_SINCE: dict[Flavor, Version | None] = {"hashicorp": None, "openbao": (2, 3, 2)}
_CONFIG_AUDIT_SINCE: dict[Flavor, Version | None] = {"hashicorp": None, "openbao": (2, 4, 0)}


def parse_version(text: str) -> Version:
    """`2.4.1` -> (2, 4, 1); ValueError for anything else (the stack config's pattern already refuses it)."""
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a version MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in parts)
    return major, minor, patch


def version_text(version: Version) -> str:
    return ".".join(map(str, version))


def _since(table: dict[Flavor, Version | None], flavor: Flavor, version: Version) -> bool:
    first = table[flavor]
    return first is not None and version >= first


def supports_session_tags(flavor: Flavor, version: Version) -> bool:
    """Whether the AWS secrets engine stamps STS sessions with a role's `session_tags`."""
    return _since(_SESSION_TAGS_SINCE, flavor, version)


def supports_config_audit(flavor: Flavor, version: Version) -> bool:
    """Whether an audit device can be declared in the server's config file."""
    return _since(_CONFIG_AUDIT_SINCE, flavor, version)


def refuses_api_audit(flavor: Flavor, version: Version) -> bool:
    """Whether `sys/audit` refuses new devices unless the server config opts in (`unsafe_allow_api_audit_creation`)."""
    return _since(_API_AUDIT_REFUSED_SINCE, flavor, version)


def audit_api_managed(flavor: Flavor, version: Version, requested: bool | None) -> bool:
    """How the plan manages the audit device: `requested` when given (the stack config checks it is possible),
    else the server's own way: the config file where the server has one, the API otherwise."""
    if requested is not None:
        return requested
    return not supports_config_audit(flavor, version)


def audit_problem(flavor: Flavor, version: Version, requested: bool | None) -> str | None:
    """Why `vault.audit.api_managed: requested` cannot work on this server, or None."""
    if requested is False and not supports_config_audit(flavor, version):
        if flavor == "hashicorp":
            return ("HashiCorp Vault enables audit devices only through the API (sys/audit): set api_managed: "
                    "true, or leave it out")
        return (f"OpenBao {version_text(version)} has no audit devices in its config file (since 2.4.0): set "
                "api_managed: true, or leave it out")
    return None


def version_problem(flavor: Flavor, version: Version) -> str | None:
    """Why agentiam cannot deploy to this server version, or None."""
    minimum = MINIMUM[flavor]
    if version < minimum:
        return (f"{flavor} {version_text(version)} is older than {version_text(minimum)}, the oldest server with "
                "every feature the program registers (user-lockout setting, role-scoped rate limits)")
    return None
