"""Exception hierarchy: one root, user errors apart from internal bugs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentiam.findings import Finding


class AgentiamError(Exception):
    """Root of every error agentiam raises on purpose."""


class UserError(AgentiamError):
    """Something the user can fix: a bad spec, a bad config, a server that refused."""


class SpecError(UserError):
    """One or more specs are invalid; carries every finding, not only the first."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        first = findings[0].render() if findings else "invalid spec"
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(first + more)


class ConfigError(UserError):
    """The stack / environment configuration is missing or wrong.

    Problems in a stack file (or a file it references) come as located `findings`, rendered one per line, so every
    output format can show them; a problem with no file to point at (no stacks folder) is a message alone."""

    def __init__(self, message: str = "", findings: list[Finding] | None = None):
        self.findings = list(findings or [])
        super().__init__(message or "\n".join(f.render() for f in self.findings))


class ServerError(UserError):
    """A server (Vault, AWS) refused or could not be reached; names the path that failed."""


class InternalError(AgentiamError):
    """A bug in agentiam itself."""
