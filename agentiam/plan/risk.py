"""Risk sets from cloudsplaining (maintained), used by the boundary, the guardrails and the diff."""

from __future__ import annotations

from functools import lru_cache

from cloudsplaining.shared import constants as _cloudsplaining

# Services agents never administer: identity, organisation and account management.
DENIED_SERVICES = ("account:*", "iam:*", "organizations:*", "sso:*", "sso-directory:*", "identitystore:*")


@lru_cache(maxsize=1)
def credential_exposure_actions() -> frozenset[str]:
    """Lower-case actions that return credentials (cloudsplaining ACTIONS_THAT_RETURN_CREDENTIALS)."""
    return frozenset(a.lower() for a in _cloudsplaining.ACTIONS_THAT_RETURN_CREDENTIALS)


@lru_cache(maxsize=1)
def privilege_escalation_methods() -> tuple[tuple[str, frozenset[str]], ...]:
    """(method name, lower-case actions it needs together) of every cloudsplaining escalation method, by name."""
    return tuple((name, frozenset(a.lower() for a in combo))
                 for name, combo in sorted(_cloudsplaining.PRIVILEGE_ESCALATION_METHODS.items()))


@lru_cache(maxsize=1)
def privilege_escalation_actions() -> frozenset[str]:
    """Lower-case actions that appear in any cloudsplaining privilege-escalation method."""
    return frozenset(a for _, combo in privilege_escalation_methods() for a in combo)


@lru_cache(maxsize=1)
def data_exfiltration_actions() -> frozenset[str]:
    """Lower-case read actions cloudsplaining flags as data exfiltration (s3:GetObject, ssm:GetParameter...)."""
    return frozenset(a.lower() for a in _cloudsplaining.READ_ONLY_DATA_EXFILTRATION_ACTIONS)


@lru_cache(maxsize=1)
def single_action_escalations() -> frozenset[str]:
    """Actions that escalate privileges on their own (cloudsplaining methods of exactly one action)."""
    return frozenset(combo[0].lower() for combo in _cloudsplaining.PRIVILEGE_ESCALATION_METHODS.values()
                     if len(combo) == 1)


def _boundary_denied() -> tuple[str, ...]:
    """What every boundary denies: identity administration, credential-returning and one-step escalation actions.

    Multi-action escalation methods are not flattened here: their parts (ec2:DescribeInstances, dynamodb:PutItem)
    are ordinary permissions on their own; the guardrails (AGT023) refuse the complete combinations instead.
    """
    denied = set(DENIED_SERVICES)
    services = {d.split(":")[0] for d in DENIED_SERVICES}
    for action in credential_exposure_actions() | single_action_escalations():
        if action.split(":")[0] not in services:
            denied.add(action)
    return tuple(sorted(denied))


BOUNDARY_DENIED_ACTIONS = _boundary_denied()
