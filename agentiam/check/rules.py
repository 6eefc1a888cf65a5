"""The findings `agentiam check` can report: id, severity, what it means and what to do. Data, in id order; the
The docs/check.md table is generated from this registry (a test keeps it in sync)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(str, Enum):
    """Severity of a check finding; `--fail-on` compares against it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return LEVELS.index(self)


LEVELS = (Level.LOW, Level.MEDIUM, Level.HIGH)


@dataclass(frozen=True)
class CheckRule:
    """One kind of finding."""

    id: str
    name: str  # kebab-case, stable
    severity: Level  # default; a finding may say otherwise where the rule explains when
    title: str
    rationale: str
    remedy: str


UNUSED_AWS = CheckRule(
    "CHK001", "unused-aws-action", Level.LOW, "AWS action granted but not used during the window",
    "Unused permissions are attack surface with no benefit (field guide, phase 4: alert on permissions unused for "
    "30 days). Judged only when the grant and the agent's deployment to the environment are older than the window "
    "(git blame) and the CloudTrail input covers the window: a younger grant cannot have been unused that long.",
    "Remove the action from the statement (`agentiam check --suggest` writes the narrowed spec when it is unused in "
    "every environment of the spec).")
UNUSED_KV = CheckRule(
    "CHK002", "unused-kv-capability", Level.LOW, "KV capability granted but not used during the window",
    "A secret path the agent never reads is a secret it should not be able to read. Judged like CHK001, on the "
    "Vault audit input.",
    "Remove the capability (or the whole `kv` entry when none is used).")
UNUSED_DATABASE = CheckRule(
    "CHK003", "unused-database-grant", Level.LOW, "Database credentials granted but never requested",
    "An agent that never asks Vault for its database credentials does not need the grant. Judged like CHK001, on "
    "the Vault audit input.",
    "Remove the `databases` entry.")
AWS_DENIED = CheckRule(
    "CHK010", "aws-access-denied", Level.HIGH, "AWS call outside the declared scope",
    "AccessDenied or UnauthorizedOperation for an agent's role: the agent tried something its spec does not grant "
    "(a bug, a prompt injection, a compromised agent). CloudWatch alarms on the count; this says what was tried.",
    "Find out why the agent tried it. If it needs it, grant it in a reviewed spec change; if it does not, treat the "
    "agent as suspect (`agentiam revoke`).")
VAULT_DENIED = CheckRule(
    "CHK011", "vault-permission-denied", Level.HIGH, "Vault request outside the declared scope",
    "`permission denied` for a token of an agent's identity entity: it asked for a path its policy does not list, "
    "another agent's secret or database credentials for instance.",
    "As CHK010.")
UNDECLARED = CheckRule(
    "CHK012", "undeclared-access-allowed", Level.HIGH, "Access allowed that the plan does not grant",
    "Vault or AWS allowed an agent something no rule of its plan grants: a policy attached or edited outside "
    "agentiam, a token minted by hand. The reviewed spec is no longer what is enforced.",
    "Find who changed the deployment; `pulumi up` restores the plan (a hand-made token must be revoked).")
AUTH_FAILURES = CheckRule(
    "CHK020", "repeated-auth-failures", Level.MEDIUM, "Repeated authentication failures of an agent",
    "Vault's own lockout is off on agentiam's AppRole mount (anyone holding a role id could lock the agent out), so "
    "this check takes its place: at least N failed logins within the burst window (default 5 in 15 minutes, Vault's "
    "lockout default). Failed AppRole logins are attributed through the HMAC of the role id (`agentiam audit-ids`).",
    "If the agent's deployment is broken, fix it; if not, someone holds the agent's role id or certificate: rotate "
    "them (`agentiam revoke`, then redeploy).")
AUTH_UNATTRIBUTED = CheckRule(
    "CHK021", "unattributed-auth-failures", Level.MEDIUM, "Repeated failed logins on an agent auth mount, no agent's",
    "Failed logins on an agent mount whose role id or name matches no agent: guessing, or an agent whose ids were "
    "not loaded (then every failure lands here).",
    "Look at the origin addresses; load the audit ids (`agentiam audit-ids`) to attribute the failures.")
AFTER_EXPIRY = CheckRule(
    "CHK030", "used-after-expiry", Level.HIGH, "Agent used after its expiry date",
    "An expired spec is refused by `validate` and `pulumi up`, but nothing disables an identity that is already "
    "deployed: it keeps working until someone revokes it.",
    "Renew `expires` in a reviewed change, or revoke the agent (`agentiam revoke`).")
WHILE_INACTIVE = CheckRule(
    "CHK031", "used-while-inactive", Level.HIGH, "Agent used while suspended or revoked",
    "A suspended or revoked agent's kill switch denies everything; a request allowed after the change (git date plus "
    "a deployment grace of 15 minutes) means the kill switch is not deployed (high). Refused attempts (medium) show "
    "the agent is still running.",
    "Run `agentiam revoke NAME --env ENV` and `pulumi up`; stop the agent's deployment.")
OUTSIDE_NETWORKS = CheckRule(
    "CHK032", "outside-bound-networks", Level.HIGH, "Agent used from outside its bound networks",
    "`bound_cidrs` limit where the agent logs in and uses its token from. A request from elsewhere that Vault "
    "allowed means the binding is not deployed (high); refused ones (medium) mean someone elsewhere holds the "
    "agent's credentials, or the agent moved.",
    "Find the origin; if the agent moved, change `bound_cidrs` in a reviewed change; if not, revoke and rotate.")

CHECK_RULES: tuple[CheckRule, ...] = (UNUSED_AWS, UNUSED_KV, UNUSED_DATABASE, AWS_DENIED, VAULT_DENIED, UNDECLARED,
                                      AUTH_FAILURES, AUTH_UNATTRIBUTED, AFTER_EXPIRY, WHILE_INACTIVE, OUTSIDE_NETWORKS)
RULES_BY_ID = {rule.id: rule for rule in CHECK_RULES}
