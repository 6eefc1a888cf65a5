"""The controls `agentiam compliance` reports on, as data: what each asks, what agentiam enforces for it (a fact
of the plan or the guardrails), which evidence fields show it per agent, and which `check` findings are gaps of it.

References (docs/facts.md#compliance-references): NIST SP 800-53 Rev. 5 IA-2, AU-2, AC-6; ISO/IEC 27001:2022
Annex A 5.15; AICPA SOC 2 (2017 TSC) CC6.1; PCI DSS v4.0.1 10.2 (and 10.5.1 for retention).

Texts are `Wording` templates with their values apart (rule ids, names with digits or markup characters), so every
writer composes them in its own output kind (`agentiam.render.escape`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from agentiam.render.escape import Trusted, Wording

T = TypeVar("T", bound=Trusted)


@dataclass(frozen=True)
class Text:
    """A sentence of the project's own words with values in its `{}` places."""

    template: Wording
    values: tuple[str, ...] = ()

    def render(self, kind: type[T]) -> T:
        return kind.compose(self.template, *self.values)

    def plain(self) -> str:
        return self.template.format(*self.values)


W = Wording


def t(template: Wording, *values: str) -> Text:
    return Text(template, values)


# Evidence fields (keys of `AgentEvidence.fields`), in the order reports show them.
FIELD_TITLES = Wording.vocabulary((
    "identity name", "IAM role", "Vault entity", "certificate CN", "login", "bound networks", "function class",
    "permissions boundary", "AWS actions", "Vault paths", "token TTL / max", "AWS session", "database lease max",
    "status", "kill switch", "owner / sponsor", "expires", "spec file", "spec digest", "reviewed commit",
    "last review", "Vault audit device", "agent activity log group", "retention in days",
    "activity in the checked window"))
FIELDS = {
    "identity": "identity name", "role_arn": "IAM role", "entity": "Vault entity", "certificate_cn": "certificate CN",
    "login": "login", "bound_cidrs": "bound networks", "function": "function class",
    "boundary": "permissions boundary", "aws_actions": "AWS actions", "vault_paths": "Vault paths",
    "token_ttl": "token TTL / max", "aws_session_ttl": "AWS session", "database_max_ttl": "database lease max",
    "status": "status", "kill_switch": "kill switch", "owner": "owner / sponsor", "expires": "expires",
    "spec": "spec file", "spec_digest": "spec digest", "spec_commit": "reviewed commit", "reviewed": "last review",
    "audit_device": "Vault audit device", "log_group": "agent activity log group",
    "retention_days": "retention in days", "activity": "activity in the checked window",
}


@dataclass(frozen=True)
class Control:
    """One control of one framework."""

    id: str  # stable, kebab-case
    framework: str
    reference: str
    title: Wording
    asks: Text
    enforced: tuple[Text, ...]  # what agentiam enforces for it, each a fact of the plan or a guardrail
    evidence: tuple[str, ...]  # FIELDS keys shown per agent
    findings: tuple[str, ...]  # `check` rule ids whose open findings are gaps of this control
    gaps: tuple[str, ...]  # GAPS keys that count against it


GAPS: dict[str, Text] = {
    "uncommitted": t(W("the spec differs from its last commit: what is deployed from it was not reviewed")),
    "no-history": t(W("the spec is not in git: no reviewed commit, no review date")),
    "stale-review": t(W("last reviewed more than a year ago")),
    "expired": t(W("past its expiry date")),
    "expiring": t(W("expires within a month")),
    "no-networks": t(W("no bound networks: it may log in and use its token from anywhere")),
    "short-retention": t(W("agent activity kept less than a year ({} asks for twelve months)"), "PCI DSS 10.5.1"),
    "no-activity-evidence": t(W("no {} report given: no evidence that the logs were read"), "agentiam check"),
}

CONTROLS: tuple[Control, ...] = (
    Control(
        "nist-ia-2", "NIST SP 800-53 Rev. 5", "IA-2", Wording("Identification and authentication"),
        t(W("Uniquely identify and authenticate every user and process acting for the organisation.")),
        (t(W("one identity per agent and environment, {}: its own IAM role, Vault entity, AppRole and certificate "
           "role; names unique across specs ({}, {})"), "agent-<env>-<name>", "AGT001", "AGT007"),
         t(W("login needs two factors: a client certificate whose name the certificate role pins ({}) and the AppRole "
           "role id, delivered apart; the certificate login can only mint one wrapped, single-use secret id"),
           "AGT041"),
         t(W("failed logins are watched per agent ({}), since Vault's lockout is off on the AppRole mount"),
           "check CHK020")),
        ("identity", "role_arn", "entity", "certificate_cn", "login", "bound_cidrs"),
        ("CHK020", "CHK021", "CHK032"), ("no-networks",)),
    Control(
        "nist-au-2", "NIST SP 800-53 Rev. 5", "AU-2", Wording("Event logging"),
        t(W("Log the events needed to investigate: who did what, when, with what result.")),
        (t(W("every Vault request and response goes to the environment's audit device; each line of an agent carries "
           "its entity id and role")),
         t(W("CloudTrail events of every agent role ({}) are routed apart from human activity, with an alarm on any "
           "access denied"), "agent-<env>-*")),
        ("entity", "role_arn", "audit_device", "log_group", "retention_days", "activity"),
        (), ("short-retention", "no-activity-evidence")),
    Control(
        "nist-ac-6", "NIST SP 800-53 Rev. 5", "AC-6", Wording("Least privilege"),
        t(W("Allow only the access each user or process needs for its task.")),
        (t(W("AWS actions named one by one, checked against the IAM catalogue, within a permissions boundary per "
           "function class ({} to {}, {})"), "AGT020", "AGT034", "AGT043"),
         t(W("Vault paths, KV secrets and database access listed in the spec only; tokens carry no default policy")),
         t(W("credentials live a day at most ({} to {})"), "AGT010", "AGT014"),
         t(W("unused and refused permissions are found in the logs ({})"), "check CHK001-CHK003, CHK010-CHK012")),
        ("function", "boundary", "aws_actions", "vault_paths", "token_ttl", "aws_session_ttl", "database_max_ttl"),
        ("CHK001", "CHK002", "CHK003", "CHK010", "CHK011", "CHK012"), ()),
    Control(
        "iso-27001-a-5-15", "ISO/IEC 27001:2022", "A.5.15", Wording("Access control"),
        t(W("Rules for access, established and reviewed on business and security requirements.")),
        (t(W("access is declared per agent in a spec reviewed in a pull request (owner, sponsor, function, expiry), "
           "with a permission diff and code owners ({}, {})"), "agentiam diff", "agentiam codeowners"),
         t(W("every agent expires ({}, {}) and can be suspended or revoked at once (kill switch)"), "AGT004",
           "AGT008")),
        ("owner", "spec", "spec_commit", "reviewed", "spec_digest", "expires", "status"),
        ("CHK012", "CHK030", "CHK031"), ("uncommitted", "no-history", "stale-review", "expired", "expiring")),
    Control(
        "soc2-cc6-1", "AICPA SOC 2 (2017 TSC)", "CC6.1", Wording("Logical access security"),
        t(W("Logical access security software, infrastructure and architectures protect information assets.")),
        (t(W("identities and credentials per agent, short-lived (a day at most) and revocable at once: a disabled "
           "entity stops every token, a deny-all policy every AWS session")),
         t(W("network bindings ({}) on login and token use"), "bound_cidrs")),
        ("identity", "status", "kill_switch", "token_ttl", "aws_session_ttl", "bound_cidrs"),
        ("CHK010", "CHK011", "CHK012", "CHK030", "CHK031", "CHK032"), ("no-networks", "expired")),
    Control(
        "pci-dss-10-2", "PCI DSS v4.0.1", "10.2", Wording("Audit logs"),
        t(W("Audit logs record user identification, event type, date and time, success or failure, origination and "
          "affected resource, for every individual access.")),
        (t(W("Vault audit lines and CloudTrail events carry each of these for every agent action; {} exports them "
           "as one record per action (agent, action, resource, time, result, origin, line ids)"), "agentiam events"),
         t(W("activity routed apart and retained as the stack config says ({})"), "retention_days")),
        ("identity", "audit_device", "log_group", "retention_days", "activity"),
        (), ("short-retention", "no-activity-evidence")),
)
CONTROLS_BY_ID = {control.id: control for control in CONTROLS}
