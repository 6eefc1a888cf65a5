"""Risk labels: the registry of every label the diff can attach (id, severities, when it fires, why), the labels of
added AWS actions and resources, and the one-line verdict per agent x environment.

AWS knowledge (which action escalates, returns credentials, executes remotely, reads data out, manages permissions,
destroys) comes from `agentiam.iam.risk`, the module the guardrails and the boundaries read; how much a resource
pattern reaches comes from `agentiam.iam.arn.breadth`. Labels never say less than the permission can do: a combined
access level ("Permissions management, Write") counts with every level it holds, and a label's severity depends on
the resource's breadth where breadth changes the harm.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agentiam.diff.model import SEVERITY_ORDER, Change, Direction, RiskLabel, Verdict
from agentiam.errors import InternalError
from agentiam.iam import catalogue
from agentiam.iam import risk as iam_risk
from agentiam.iam.arn import Arn, Breadth, breadth
from agentiam.spec.types import idn_display

_TOKEN = re.compile(r"[a-z0-9]+")
_ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


@dataclass(frozen=True)
class LabelKind:
    """One kind of risk label, as the registry documents it."""

    id: str
    severities: tuple[str, ...]  # the severities it may carry, lowest first
    when: str
    rationale: str

    def label(self, severity: str, reason: str) -> RiskLabel:
        """A label of this kind; a severity the registry does not list is a bug in agentiam."""
        if severity not in self.severities:
            raise InternalError(f"risk label {self.id} cannot be {severity!r} (registry: {self.severities})")
        return RiskLabel(self.id, severity, reason)


PRIVILEGE_ESCALATION = LabelKind(
    "privilege-escalation", ("medium", "high"),
    "An added action completes a cloudsplaining privilege-escalation method (high), administers identities, sessions "
    "or accounts (high), or is one step of such a method (medium).",
    "An agent that can grant itself more power has every power.")
CREDENTIALS_EXPOSURE = LabelKind(
    "credentials-exposure", ("high",),
    "An added action returns credentials (cloudsplaining ACTIONS_THAT_RETURN_CREDENTIALS, or named like credential "
    "minting).", "Credentials minted outside Vault have no lease, no audit trail and no revocation.")
DATA_EXFILTRATION = LabelKind(
    "data-exfiltration", ("medium", "high"),
    "An added action reads stored data or secrets out (medium); on every resource of a type, or Resource \"*\" (high).",
    "What an agent can read, a compromised agent can leak.")
RESOURCE_EXPOSURE = LabelKind(
    "resource-exposure", ("high",),
    "An added action is at the Permissions management access level, alone or combined (bucket policies, ACLs, "
    "grants, sharing).", "Changing who may access a resource can expose it to anyone, in any account.")
INFRASTRUCTURE_MODIFICATION = LabelKind(
    "infrastructure-modification", ("low",),
    "An added action writes or tags resources, or a database grant writes.",
    "Writes change what other systems and people rely on.")
REMOTE_EXECUTION = LabelKind(
    "remote-execution", ("high",),
    "An added action runs commands or opens a session on existing compute (SSM Run Command and Session Manager, ECS "
    "Exec, EC2 Instance Connect, CloudShell, EMR steps...).",
    "A shell on a machine is every permission of that machine's own role, and every secret on its disk.")
DESTRUCTIVE = LabelKind(
    "destructive", ("high",),
    "An added action deletes, terminates, purges or destroys resources.",
    "Destruction cannot be reviewed after the fact; an agent's mistake or compromise is an outage or data loss.")
ACCESS_ESCALATION = LabelKind(
    "access-escalation", ("medium", "high"),
    "A resource, Vault path or database the agent already reached gets a higher access level (high when it "
    "becomes Permissions management).", "More power on a known resource is easy to miss among familiar names.")
WILDCARD = LabelKind(
    "wildcard", ("medium", "high"),
    "An action pattern (medium); a resource name pattern such as `billing-*` or a wildcard region (medium); every "
    "resource of a type (`arn:aws:s3:::*`, `instance/*`, `key/*`) or Resource \"*\" (high).",
    "A wildcard grants what exists later too; a collection wildcard is Resource \"*\" in all but spelling.")
CROSS_ENVIRONMENT = LabelKind(
    "cross-environment", ("high",),
    "A resource, path or host names another environment (its account id or its name as a word).",
    "Environments are separate: a dev agent never reaches prod.")
CROSS_ACCOUNT = LabelKind(
    "cross-account", ("high",),
    "A grant reaches an account that is not the environment's own: declared in the spec (with its reason), or a "
    "12-digit account id in a resource that is not the environment's.",
    "Another account's resources are outside this environment's audit trail and its owners' control.")
DATABASE_SCOPE = LabelKind(
    "database-scope", ("high",),
    "A database grant reaches another schema: the stack config's connection lists it, so every agent granted that "
    "database reaches it too.", "A schema added to a connection silently widens every agent granted that database.")
LONGER_LIFETIME = LabelKind(
    "longer-lifetime", ("low", "medium", "high"),
    "A credential lives longer: up to 4x (medium), more (high); the identity's expiry later (low).",
    "A leaked credential is useful for as long as it lives (field guide: short-lived tokens).")
NEW_EGRESS = LabelKind(
    "new-egress", ("medium",),
    "An external endpoint becomes reachable: a host added to an agent's egress (where a Network Firewall enforces the "
    "environment's allow-list, the host joins it: by name, on any port, for every workload behind the firewall), or "
    "the environment's egress stops being enforced.",
    "Every external endpoint is a way out for data.")
TRUST_CHANGED = LabelKind(
    "trust-changed", ("medium", "high"),
    "Who may assume the agent's role, sign its login certificate (the agent CA) or receive Vault's database "
    "credentials changed; a trust condition dropped or loosened; the agent's token role may put another policy or "
    "identity on its tokens.",
    "Trust roots decide who can become the agent.")
REACTIVATED = LabelKind(
    "reactivated", ("high",), "A suspended or revoked agent becomes active.",
    "Re-activation restores every permission of the spec at once.")
AUDIT_WEAKENED = LabelKind(
    "audit-weakened", ("low", "medium", "high"),
    "Agent activity is kept shorter, routed elsewhere, or the audit device moved or changed options.",
    "What is not logged cannot be investigated (NIST AU-2, PCI DSS 10.2).")
ENVIRONMENT_MOVED = LabelKind(
    "environment-moved", ("medium", "high"), "An environment's account (high) or region (medium) changed.",
    "Every agent role, boundary and log route is created anew elsewhere; what exists in the old place is left.")
GUARDRAIL_LOOSENED = LabelKind(
    "guardrail-loosened", ("medium",),
    "A stack config loosens a guardrail limit of its environment (a longer expiry horizon, a higher rate bound, an "
    "internal domain dropped).", "A looser limit lets later specs through that review would have stopped.")
NEW_ENVIRONMENT = LabelKind(
    "new-environment", ("high",),
    "An environment is added: its trusted principal, accounts, agent CA, audit device and log routing are new.",
    "A new environment brings new trust roots; it is reviewed like a new agent plus its platform.")
CODE_CHANGED = LabelKind(
    "code-changed", ("high",),
    "agentiam's own code, build, dependencies or Pulumi.yaml changed: each difference between what the head's specs "
    "register when compiled by the base's and by the head's code (`agentiam snapshot`), "
    "or the effect was not compiled.",
    "The review runs the base's tool: a change to the code that decides what deploys shows in no plan entry.")
GATE_CHANGED = LabelKind(
    "gate-changed", ("high",),
    "A file under `.github/` changed: the CI workflow or CODEOWNERS.",
    "GitHub runs the pull request's own workflow file: a pull request can change the gate that judges it.")

LEGACY_REVOCATION = LabelKind(
    "legacy-revocation", ("medium", "high"),
    "A legacy credential is added to the agent's migration: `agentiam migrate revoke-legacy` may deactivate or "
    "revoke it once the parallel run has lasted (medium); at once, the parallel run having lasted already (high).",
    "Listed here, another team's credential would be cut: revoke-legacy also needs evidence that this agent used it "
    "(docs/migrate.md), and a reviewer who knows whose it is.")
PARALLEL_RUN_SHORTENED = LabelKind(
    "parallel-run-shortened", ("medium", "high"),
    "The parallel run starts, starts earlier or is shortened: `revoke-legacy` may act sooner (medium); at once "
    "(high).",
    "The parallel run is what shows the new identity works before the old credentials go (field guide, phase 3).")

LABELS: tuple[LabelKind, ...] = tuple(sorted(
    (PRIVILEGE_ESCALATION, CREDENTIALS_EXPOSURE, DATA_EXFILTRATION, RESOURCE_EXPOSURE, INFRASTRUCTURE_MODIFICATION,
     REMOTE_EXECUTION, DESTRUCTIVE, ACCESS_ESCALATION, WILDCARD, CROSS_ENVIRONMENT, CROSS_ACCOUNT, DATABASE_SCOPE,
     LONGER_LIFETIME, NEW_EGRESS, TRUST_CHANGED, REACTIVATED, AUDIT_WEAKENED, ENVIRONMENT_MOVED, NEW_ENVIRONMENT,
     GUARDRAIL_LOOSENED, CODE_CHANGED, GATE_CHANGED, LEGACY_REVOCATION, PARALLEL_RUN_SHORTENED),
    key=lambda kind: kind.id))


def render_labels_markdown() -> str:
    """The registry as a Markdown table for docs/risk-labels.md; a test keeps the page in sync."""
    lines = ["| label | severity | when | why |", "|---|---|---|---|"]
    for kind in LABELS:
        lines.append(f"| `{kind.id}` | {' / '.join(kind.severities)} | {kind.when} | {kind.rationale} |")
    return "\n".join(lines) + "\n"


def ordered_levels(levels: Iterable[str]) -> tuple[str, ...]:
    """Access levels in catalogue order (List < Read < Tagging < Write < Permissions management)."""
    return tuple(sorted(set(levels), key=catalogue.level_rank))


def top_level(levels: Iterable[str]) -> str | None:
    """The highest access level among `levels`."""
    ordered = ordered_levels(levels)
    return ordered[-1] if ordered else None


def _short(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _escalation(new: dict[str, str], reached: frozenset[str]) -> RiskLabel | None:
    """cloudsplaining's escalation methods: complete ones the change makes reachable, else a step of one."""
    complete = sorted(name for name, combo in iam_risk.privilege_escalation_methods()
                      if combo <= reached and any(a in new for a in combo))
    if complete:
        return PRIVILEGE_ESCALATION.label("high", f"completes {_short(complete)} (cloudsplaining privilege-escalation "
                                                  "methods)")
    admin = sorted(new[a] for a in new if iam_risk.identity_administration(a))
    if admin:  # identity administration: one step is enough to be worth a stop (the boundary denies it too)
        return PRIVILEGE_ESCALATION.label("high", f"{_short(admin)} administers identities, sessions or accounts")
    steps = sorted(new[a] for a in new if a in iam_risk.privilege_escalation_actions())
    if not steps:
        return None
    return PRIVILEGE_ESCALATION.label("medium", f"{_short(steps)} is one step of a privilege-escalation method "
                                                "(cloudsplaining)")


def action_risks(concrete: Iterable[catalogue.ActionInfo], reached: Iterable[str] = (),
                 widest: Breadth = Breadth.EXACT) -> list[RiskLabel]:
    """Labels of the concrete actions a grant adds; `reached`: every action the agent has after the change;
    `widest`: the breadth of the widest resource they are granted on."""
    infos = list(concrete)
    new = {i.name.lower(): i.name for i in infos}
    classes = {i.name: iam_risk.classify(i) for i in infos}
    labels: list[RiskLabel | None] = [_escalation(new, frozenset(a.lower() for a in reached) | frozenset(new))]

    def having(flag: str) -> list[str]:
        return sorted(name for name, risks in classes.items() if getattr(risks, flag))

    if found := having("credential_returning"):
        labels.append(CREDENTIALS_EXPOSURE.label("high", f"{_short(found)} returns credentials"))
    if found := having("remote_execution"):
        labels.append(REMOTE_EXECUTION.label("high", f"{_short(found)} runs commands on existing compute"))
    if found := having("data_exfiltration"):
        broad = widest >= Breadth.COLLECTION
        labels.append(DATA_EXFILTRATION.label("high" if broad else "medium", f"{_short(found)} reads data or secrets "
                                              "out" + (f" of {widest.label}" if broad else "")))
    if found := having("permissions_management"):
        labels.append(RESOURCE_EXPOSURE.label("high", f"{_short(found)} can change who may access resources "
                                                      "(Permissions management)"))
    if found := having("destructive"):
        labels.append(DESTRUCTIVE.label("high", f"{_short(found)} deletes or destroys"
                                        + (f" ({widest.label})" if widest > Breadth.EXACT else "")))
    if found := having("modifies"):
        labels.append(INFRASTRUCTURE_MODIFICATION.label("low", f"{_short(found)} modifies resources"))
    return [label for label in labels if label is not None]


def access_escalation(resource: str, before_level: str | None, after_level: str | None) -> RiskLabel | None:
    """Read -> Write (or any higher level) on a resource the agent could already reach."""
    if before_level is None or after_level is None:
        return None
    if catalogue.level_rank(after_level) <= catalogue.level_rank(before_level):
        return None
    severity = "high" if after_level == "Permissions management" else "medium"
    return ACCESS_ESCALATION.label(severity, f"{before_level} -> {after_level} on {resource}")


def wildcard_action(pattern: str, count: int) -> RiskLabel | None:
    """An action pattern with `*` or `?`: the reviewer approves everything it matches, now and later."""
    if "*" not in pattern and "?" not in pattern:
        return None
    return WILDCARD.label("medium", f"{pattern} reaches {count} actions today, and any the service adds")


def wildcard_resource(resource: str) -> RiskLabel | None:
    """A resource reaching resources by pattern, by how much it reaches (`agentiam.iam.arn.breadth`). Everything
    below one named resource (`bucket-name/*`) is how IAM names the objects of one bucket: no label."""
    reach = breadth(resource)
    if reach <= Breadth.SUBTREE:
        return None
    severity = "high" if reach >= Breadth.COLLECTION else "medium"
    return WILDCARD.label(severity, f"{resource}: {reach.label}")


def cross_environment(text: str, environment: str, others: Mapping[str, str]) -> RiskLabel | None:
    """A resource naming another environment: its account id, or its name as a word (`billing-prod-x`)."""
    tokens = set(_TOKEN.findall(text.lower()))
    for name, account in sorted(others.items()):
        if name == environment:
            continue
        if account and account in text:
            return CROSS_ENVIRONMENT.label("high", f"{text} is in the {name} account {account}, granted in "
                                                   f"{environment}")
        if name in tokens:
            return CROSS_ENVIRONMENT.label("high", f"{text} names the {name} environment, granted in {environment}")
    return None


def foreign_account(resource: str, own_account: str, accounts: Mapping[str, str]) -> RiskLabel | None:
    """A resource in an account that is no configured environment's: its account field, or (S3 buckets carry no
    account) a 12-digit account id in its name."""
    arn = Arn.parse(resource)
    known = set(accounts.values())
    candidates = [arn.account] if arn is not None and arn.account else []
    candidates += _ACCOUNT_ID.findall(arn.resource if arn is not None else resource)
    for account in candidates:
        if account and account != own_account and account not in known and account.isdigit():
            return CROSS_ACCOUNT.label("high", f"{resource} names account {account}, which is not this "
                                               "environment's")
    return None


def longer_lifetime(field: str, before: int, after: int, text_before: str, text_after: str) -> RiskLabel | None:
    """A credential that lives longer: more time to use it if it leaks (field guide: short-lived tokens)."""
    if after <= before:
        return None
    severity = "medium" if after < 4 * max(before, 1) else "high"
    return LONGER_LIFETIME.label(severity, f"{field} {text_before} -> {text_after}")


def enforcement_text(enforcement: str, allow_list: str | None) -> str:
    """What enforces an agent's egress, in a diff line."""
    if enforcement == "network-firewall" and allow_list:
        return f"Network Firewall rule group {allow_list} (names, any port)"
    return "not enforced by agentiam (a list for the network team)"


def new_egress(host: str, port: int, purpose: str, enforcement: str = "none",
               allow_list: str | None = None) -> RiskLabel:
    """A new external endpoint: a way for data to leave the network. Says what the reviewer approves: where a
    firewall enforces the allow-list, the host by name for every workload behind it, on any port (a domain list
    does not match ports); a punycode host with how it reads."""
    shown = idn_display(host)
    reads = f" (reads as {shown})" if shown else ""
    if enforcement == "network-firewall" and allow_list:
        return NEW_EGRESS.label("medium", f"{host}{reads} ({purpose}) joins the allow-list {allow_list}: reachable "
                                          f"by name on any port, not only {port}, from every workload behind the "
                                          "firewall, not only this agent")
    return NEW_EGRESS.label("medium", f"{host}:{port}{reads} ({purpose}) is reachable from the agent; agentiam "
                                      "enforces nothing here (egress.enforcement: none), the network team must")


def unique_labels(labels: Iterable[RiskLabel | None]) -> tuple[RiskLabel, ...]:
    """Distinct labels, most severe first."""
    return tuple(sorted({label for label in labels if label is not None},
                        key=lambda r: (-SEVERITY_ORDER.index(r.severity), r.id, r.reason)))


def verdict(changes: Iterable[Change]) -> Verdict:
    """Worst change wins: any high-risk widening, else any widening, else any narrowing, else neutral."""
    items = list(changes)
    if not items:
        return Verdict.NO_CHANGE
    wider = [c for c in items if c.direction is Direction.WIDER]
    if any(c.high_risk for c in wider):
        return Verdict.HIGH_RISK
    if wider:
        return Verdict.WIDENED
    if any(c.direction is Direction.NARROWER for c in items):
        return Verdict.NARROWED
    return Verdict.CHANGED
