"""Blast radius: what one identity could read, change or send out if compromised, as a tier with its reasons.

The tier rules are a registry (`TIER_RULES`, documented in docs/inventory.md by a generated table). What an AWS
action can do comes from the same knowledge the guardrails and the diff use: the risk sets of `agentiam.iam.risk`
through the diff's labels (`agentiam.diff.risk.action_risks`), access levels from the IAM catalogue, how much a
resource pattern reaches from `agentiam.iam.arn.breadth`. Vault, database and network reach come from the plan
entry. The tier is the worst rule that fires; every rule that fires is a reason, so a reader sees why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from agentiam.diff import risk as labels
from agentiam.diff.model import RiskLabel
from agentiam.errors import InternalError
from agentiam.iam import catalogue
from agentiam.iam import risk as iam_risk
from agentiam.iam.arn import Breadth, breadth
from agentiam.inventory.model import (
    AwsGrant,
    BlastRadius,
    DatabaseGrant,
    Endpoint,
    Target,
    TargetKind,
    Tier,
    TierReason,
    VaultGrant,
)
from agentiam.spec.types import format_duration

# A Vault token renewable past this, or an AWS session longer than an hour, is a reason of its own: a stolen one
# stays useful that long (STS sessions cannot be revoked one by one: docs/facts.md#aws-revocation).
LONG_TOKEN = 8 * 3600
LONG_SESSION = 3600
KV_WRITE = frozenset({"create", "update", "delete", "patch"})


@dataclass(frozen=True)
class TierRule:
    """One reason an identity can be in a tier, as the registry documents it."""

    id: str
    tier: Tier
    when: str
    why: str

    def reason(self, text: str) -> TierReason:
        return TierReason(self.id, self.tier, text)


TAKEOVER = TierRule(
    "takeover", Tier.CRITICAL,
    "An AWS action administers identities, returns credentials or completes a privilege-escalation method "
    "(cloudsplaining). The guardrails refuse these, so it marks a spec planned before a rule or the catalogue knew.",
    "An identity that can mint credentials or grant itself power can become any identity of the account.")
REMOTE_EXECUTION = TierRule(
    "remote-execution", Tier.HIGH,
    "An AWS action runs commands or opens a session on existing compute (SSM, ECS Exec, EC2 Instance Connect...).",
    "A shell on a machine is every permission of that machine's role and every secret on its disk.")
RESOURCE_EXPOSURE = TierRule(
    "resource-exposure", Tier.HIGH,
    "An AWS action is at the Permissions management access level (bucket policies, ACLs, grants, sharing).",
    "It can open a resource to anyone, in any account.")
DESTRUCTIVE = TierRule(
    "destructive", Tier.HIGH,
    "An AWS action deletes, terminates, purges or destroys.",
    "Destruction cannot be undone: a compromise is an outage or lost data.")
BULK_READ = TierRule(
    "bulk-read", Tier.HIGH,
    "An AWS action reads stored data or secrets out of every resource of a type, or Resource \"*\".",
    "Everything of that kind in the account can leak at once, including what is created later.")
READ_AND_SEND = TierRule(
    "read-and-send", Tier.HIGH,
    "The identity reads stored data (AWS data reads, a database) and reaches external hosts.",
    "Both halves of exfiltration in one identity: what it reads, it can send out.")
OTHER_ACCOUNT = TierRule(
    "other-account", Tier.HIGH,
    "A grant reaches another AWS account (`cross_account`, a foreign account id) or names another environment.",
    "Another account or environment is outside this environment's audit trail and its owners' control.")
ESCALATION_STEP = TierRule(
    "escalation-step", Tier.MEDIUM,
    "An AWS action is one step of a privilege-escalation method (cloudsplaining).",
    "One more grant, in a later change, would complete the method.")
WRITES_DATA = TierRule(
    "writes-data", Tier.MEDIUM,
    "The identity writes: AWS Write or Tagging actions, database write (INSERT, UPDATE, DELETE), KV create, update "
    "or delete.",
    "Writes change what other systems and people rely on: a compromise can corrupt them.")
READS_DATA = TierRule(
    "reads-data", Tier.MEDIUM,
    "The identity reads stored data or secrets: AWS data reads on named resources, a database, KV secrets.",
    "What an identity can read, a compromised one can leak.")
EXTERNAL_REACH = TierRule(
    "external-reach", Tier.MEDIUM,
    "The egress allow-list names external hosts.",
    "Every external endpoint is a way out for data and a way in for instructions.")
SHARED_SECRET = TierRule(
    "shared-secret", Tier.MEDIUM,
    "The identity reads a KV secret another agent owns and shares with it.",
    "A leak exposes the other agent's credential: its blast radius adds to this one.")
PATTERN_REACH = TierRule(
    "pattern-reach", Tier.MEDIUM,
    "An action wildcard (`s3:Get*`), or a resource name pattern (`billing-*`), on more than metadata reads.",
    "A wildcard also grants what exists later; nobody reviewed those.")
LONG_LIVED = TierRule(
    "long-lived-credentials", Tier.LOW,
    "The Vault token can be renewed past 8 hours, or the AWS session lasts more than 1 hour.",
    "A stolen credential stays useful until it expires; STS sessions can only be cut by the kill switch.")
MINIMAL = TierRule(
    "minimal", Tier.LOW,
    "Nothing above: metadata reads (lists, descriptions) and the identity's own Vault token at most.",
    "The worst case is reconnaissance.")
INACTIVE = TierRule(
    "inactive", Tier.NONE,
    "The agent is suspended or revoked in this environment.",
    "The kill switch denies every AWS action and the disabled entity refuses its tokens: nothing it holds works "
    "until a reviewed change re-activates it.")

TIER_RULES: tuple[TierRule, ...] = tuple(sorted(
    (TAKEOVER, REMOTE_EXECUTION, RESOURCE_EXPOSURE, DESTRUCTIVE, BULK_READ, READ_AND_SEND, OTHER_ACCOUNT,
     ESCALATION_STEP, WRITES_DATA, READS_DATA, EXTERNAL_REACH, SHARED_SECRET, PATTERN_REACH, LONG_LIVED, MINIMAL,
     INACTIVE),
    key=lambda rule: (-rule.tier.rank, rule.id)))
RULES_BY_ID = {rule.id: rule for rule in TIER_RULES}

# The diff's label for an AWS action (and its severity) -> the tier rule it makes fire.
_FROM_LABEL = {
    ("privilege-escalation", "high"): TAKEOVER,
    ("credentials-exposure", "high"): TAKEOVER,
    ("privilege-escalation", "medium"): ESCALATION_STEP,
    ("remote-execution", "high"): REMOTE_EXECUTION,
    ("resource-exposure", "high"): RESOURCE_EXPOSURE,
    ("destructive", "high"): DESTRUCTIVE,
    ("data-exfiltration", "high"): BULK_READ,
    ("data-exfiltration", "medium"): READS_DATA,
    ("infrastructure-modification", "low"): WRITES_DATA,
}


def render_tier_rules_markdown() -> str:
    """The registry as a Markdown table for docs/inventory.md; a test keeps the page in sync."""
    lines = ["| rule | tier | when | why |", "|---|---|---|---|"]
    for rule in TIER_RULES:
        lines.append(f"| `{rule.id}` | {rule.tier.value} | {rule.when} | {rule.why} |")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=16384)
def concrete_actions(actions: tuple[str, ...]) -> tuple[catalogue.ActionInfo, ...]:
    """Every catalogue action a statement's actions reach (wildcards expanded), by name."""
    found = {info.name: info for action in actions for info in catalogue.expand(action)}
    return tuple(found[name] for name in sorted(found))


def access_levels(actions: tuple[str, ...]) -> tuple[str, ...]:
    """Every access level the actions reach, lowest first (combined levels count with each of theirs)."""
    return labels.ordered_levels(level for info in concrete_actions(actions) for level in info.access_levels)


@lru_cache(maxsize=16384)
def _labels(actions: tuple[str, ...], reached: frozenset[str], reach: Breadth) -> tuple[RiskLabel, ...]:
    """The diff's labels of a statement's actions: the same for every agent whose statement and other actions are
    alike (a fleet repeats a few shapes), so computed once per shape."""
    return tuple(labels.action_risks(concrete_actions(actions), reached, reach))


def widest(resources: Iterable[str]) -> Breadth:
    return max((breadth(r) for r in resources), default=Breadth.EXACT)


class _Collector:
    """Reasons and targets gathered while an identity is assessed; one reason per rule, its texts joined."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.reads: set[Target] = set()
        self.changes: set[Target] = set()
        self.sends_to: set[Target] = set()

    def fire(self, rule: TierRule, text: str) -> None:
        found = self.texts.setdefault(rule.id, [])
        if text not in found:
            found.append(text)

    def fired(self, rule: TierRule) -> bool:
        return rule.id in self.texts

    def radius(self) -> BlastRadius:
        reasons = sorted((RULES_BY_ID[rule_id].reason("; ".join(texts)) for rule_id, texts in self.texts.items()),
                         key=lambda r: (-r.tier.rank, r.rule))
        tier = reasons[0].tier if reasons else Tier.LOW
        return BlastRadius(tier, tuple(reasons), tuple(sorted(self.reads)), tuple(sorted(self.changes)),
                           tuple(sorted(self.sends_to)))


def _short(names: Iterable[str], limit: int = 3) -> str:
    items = list(dict.fromkeys(names))
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True)
class Subject:
    """What `assess` judges: one agent x environment, its grants as the inventory lists them."""

    environment: str
    account_id: str
    active: bool
    aws: tuple[AwsGrant, ...]
    aws_usable: bool
    databases: tuple[DatabaseGrant, ...]
    vault: tuple[VaultGrant, ...]
    egress: tuple[Endpoint, ...]
    token_max_ttl: int
    aws_session_ttl: int | None
    agent: str


def assess(subject: Subject, accounts: Mapping[str, str]) -> BlastRadius:
    """The blast radius of one identity; `accounts`: every known environment's account id, by environment name."""
    found = _Collector()
    if not subject.active:
        found.fire(INACTIVE, "suspended or revoked here: kill switch on the role, entity disabled")
        return found.radius()
    reads_stored_data: list[str] = []
    if subject.aws_usable:
        reads_stored_data += _aws(subject, accounts, found)
    for grant in subject.databases:
        target = Target(TargetKind.DATABASE, f"{grant.database} (schemas {', '.join(grant.schemas)})")
        found.reads.add(target)
        reads_stored_data.append(f"database {grant.database}")
        found.fire(READS_DATA, f"database {grant.database} ({', '.join(grant.schemas)}): SELECT")
        if grant.access == "write":
            found.changes.add(target)
            found.fire(WRITES_DATA, f"database {grant.database}: {', '.join(grant.privileges)}")
    for grant in subject.vault:
        _kv(subject, grant, accounts, found)
    for endpoint in subject.egress:
        found.sends_to.add(Target(TargetKind.HOST, f"{endpoint.host}:{endpoint.port}"))
        found.fire(EXTERNAL_REACH, f"{endpoint.host}:{endpoint.port} ({endpoint.purpose})")
        if (label := labels.cross_environment(endpoint.host, subject.environment, accounts)) is not None:
            found.fire(OTHER_ACCOUNT, label.reason)
    if reads_stored_data and subject.egress:
        found.fire(READ_AND_SEND, f"reads {_short(reads_stored_data)}; sends to "
                                  f"{_short(f'{e.host}:{e.port}' for e in subject.egress)}")
    if subject.token_max_ttl > LONG_TOKEN:
        found.fire(LONG_LIVED, f"Vault token renewable up to {format_duration(subject.token_max_ttl)}")
    if subject.aws_session_ttl is not None and subject.aws_session_ttl > LONG_SESSION:
        found.fire(LONG_LIVED, f"AWS session of {format_duration(subject.aws_session_ttl)}")
    if all(RULES_BY_ID[rule_id].tier.rank <= Tier.LOW.rank for rule_id in found.texts):
        found.fire(MINIMAL, "metadata reads and its own Vault token at most")
    return found.radius()


def _aws(subject: Subject, accounts: Mapping[str, str], found: _Collector) -> list[str]:
    """Fire the rules of the agent's AWS statements; returns what it reads of stored data (for read-and-send)."""
    reached = frozenset(info.name for grant in subject.aws for info in concrete_actions(grant.actions))
    data_reads: list[str] = []
    for grant in subject.aws:
        infos = concrete_actions(grant.actions)
        if not infos:
            raise InternalError(f"statement {grant.sid} of {subject.agent}: no catalogue action matches "
                                f"{', '.join(grant.actions)} (the guardrails refuse unknown actions)")
        reach = widest(grant.resources)
        risks = {iam_risk.classify(info) for info in infos}
        on = f" on {_short(grant.resources, 2)}"
        for label in _labels(grant.actions, reached, reach):
            rule = _FROM_LABEL.get((label.id, label.severity))
            if rule is None:
                raise InternalError(f"no tier rule for the diff's label {label.id} ({label.severity})")
            found.fire(rule, label.reason + on)
        targets = {Target(TargetKind.AWS, resource) for resource in grant.resources}
        if any(r.data_exfiltration or r.credential_returning for r in risks):
            found.reads.update(targets)
            data_reads.append(_short(grant.resources, 1))
        if any(r.modifies or r.remote_execution for r in risks):
            found.changes.update(targets)
        metadata_only = all(r.metadata_read for r in risks)
        for action in grant.actions:
            if (label := labels.wildcard_action(action, len(catalogue.expand(action)))) is not None:
                found.fire(PATTERN_REACH, label.reason)
        if not metadata_only and Breadth.PATTERN <= reach < Breadth.COLLECTION:
            found.fire(PATTERN_REACH, f"{_short(grant.actions)} on {reach.label}: "
                                      f"{_short(r for r in grant.resources if breadth(r) >= Breadth.PATTERN)}")
        for account in grant.accounts:
            if account != subject.account_id:
                found.sends_to.add(Target(TargetKind.ACCOUNT, account))
                found.fire(OTHER_ACCOUNT, f"statement {grant.sid} reaches account {account} (cross_account)")
        for resource in grant.resources:
            label = (labels.cross_environment(resource, subject.environment, accounts)
                     or labels.foreign_account(resource, subject.account_id, accounts))
            if label is not None:
                found.fire(OTHER_ACCOUNT, label.reason)
    return data_reads


def _kv(subject: Subject, grant: VaultGrant, accounts: Mapping[str, str], found: _Collector) -> None:
    target = Target(TargetKind.VAULT, grant.path)
    capabilities = set(grant.capabilities)
    if capabilities & {"read", "list"}:
        found.reads.add(target)
        found.fire(READS_DATA, f"KV {grant.path} ({', '.join(grant.capabilities)})")
    if capabilities & KV_WRITE:
        found.changes.add(target)
        found.fire(WRITES_DATA, f"KV {grant.path} ({', '.join(sorted(capabilities & KV_WRITE))})")
    if grant.owner is not None and grant.owner != subject.agent:
        found.fire(SHARED_SECRET, f"{grant.path}, shared by {grant.owner}")
    if (label := labels.cross_environment(grant.path, subject.environment, accounts)) is not None:
        found.fire(OTHER_ACCOUNT, label.reason)
