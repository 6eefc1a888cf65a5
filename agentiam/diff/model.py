"""The diff model every renderer reads: per environment and per agent x environment, changes with risk labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from agentiam.findings import Finding
from agentiam.plan.model import AgentPlan


class Direction(str, Enum):
    """Whether a change gives the agent more power, less, or neither (metadata)."""

    WIDER = "wider"
    NARROWER = "narrower"
    NEUTRAL = "neutral"


class Verdict(str, Enum):
    """One-line judgement per agent x environment (worst change wins)."""

    NO_CHANGE = "no change"
    CHANGED = "changed"  # only neutral changes: owner, contact, description, certificate name
    NARROWED = "narrowed"
    WIDENED = "widened"
    HIGH_RISK = "widened: high risk"


SEVERITY_ORDER = ("low", "medium", "high")


@dataclass(frozen=True, order=True)
class RiskLabel:
    """Why an added permission deserves attention; `id` is stable (documented in docs/risk-labels.md)."""

    id: str
    severity: str  # low | medium | high (cloudsplaining's ISSUE_SEVERITY for its own sets)
    reason: str

    @property
    def high(self) -> bool:
        return self.severity == "high"


class System(StrEnum):
    """The section a change belongs to, in the order the writers show them.

    Agent sections: agent, function, trust, aws, vault, database, lifetime, network, migration, owner, other;
    environment sections: trust, environment, boundary, connection, mount, logging, audit, other; `code` for
    agentiam's own."""

    AGENT = "agent"
    FUNCTION = "function"
    TRUST = "trust"
    ENVIRONMENT = "environment"
    AWS = "aws"
    BOUNDARY = "boundary"
    VAULT = "vault"
    DATABASE = "database"
    CONNECTION = "connection"
    LIFETIME = "lifetime"
    MOUNT = "mount"
    NETWORK = "network"
    LOGGING = "logging"
    AUDIT = "audit"
    MIGRATION = "migration"
    OWNER = "owner"
    OTHER = "other"
    CODE = "code"


SYSTEM_ORDER = tuple(System)


class Op(StrEnum):
    """What happened to the change's subject: the engine's whole vocabulary of operations (the writers show each
    as a word; `agentiam.render.diff_common`)."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    WIDENED = "widened"
    NARROWED = "narrowed"
    SUBSUMED = "subsumed"  # an action replaced by a wildcard reaching it, on the same resources
    MOVED = "moved"
    SHORTENED = "shortened"
    LENGTHENED = "lengthened"
    EXTENDED = "extended"
    REACTIVATED = "reactivated"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SHARED = "shared"
    UNSHARED = "unshared"
    LOOSENED = "loosened"
    TIGHTENED = "tightened"
    DELETED = "deleted"  # code: a file deleted
    MODIFIED = "modified"
    TYPE_CHANGED = "type changed"
    NOT_COMPILED = "not compiled"  # code: its effect on the plans was not computed
    NO_EFFECT = "no effect"  # code: compiled, and the plans are the same


@dataclass(frozen=True)
class Change:
    """One change to one natural key (an action, a resource, a Vault path, a database, a lifetime...)."""

    system: System
    op: Op
    subject: str  # the natural key, e.g. `s3:GetObject`, `secret/data/billing/x/*`, `token_max_ttl`
    direction: Direction
    before: str | None = None
    after: str | None = None
    access_level: str | None = None
    resources: tuple[str, ...] = ()
    expands_to: tuple[str, ...] = ()  # concrete actions a wildcard reaches (AWS only)
    risks: tuple[RiskLabel, ...] = ()
    line: int | None = None  # line of the spec at head (or base, for removals) that causes it
    column: int | None = None
    field: str = ""  # the spec field by natural key, e.g. `permissions.aws[read-invoices].actions`

    @property
    def high_risk(self) -> bool:
        return any(r.high for r in self.risks)

    def __post_init__(self) -> None:
        # A free string is refused here, not rendered later as an unknown section: System("aws") is System.AWS.
        object.__setattr__(self, "system", System(self.system))
        object.__setattr__(self, "op", Op(self.op))

    def sort_key(self) -> tuple:
        return (SYSTEM_ORDER.index(self.system), self.subject, self.op, self.before or "", self.after or "")


@dataclass(frozen=True)
class EntryChange:
    """One agent x environment whose plan entry differs: the plan-level change set diff is computed from."""

    environment: str
    agent: str
    before: AgentPlan | None
    after: AgentPlan | None


class _Tally:
    """What the writers count over `changes`, the same for one agent and for one environment."""

    changes: tuple[Change, ...]

    def count(self, direction: Direction) -> int:
        return sum(c.direction is direction for c in self.changes)

    @property
    def high_risk_changes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.high_risk and c.direction is Direction.WIDER)


@dataclass(frozen=True)
class AgentDiff(_Tally):
    """Everything that changes for one agent in one environment."""

    environment: str
    agent: str
    kind: str  # added | removed | changed
    file: str  # spec file at head (at base when removed)
    changes: tuple[Change, ...]
    verdict: Verdict
    findings: tuple[Finding, ...] = ()  # guardrail violations of the head spec in this environment's run
    notes: tuple[str, ...] = ()  # e.g. the kill switch still denies everything of an inactive agent


@dataclass(frozen=True)
class EnvironmentDiff(_Tally):
    """Environment-wide changes of one environment: boundaries, connections, mounts, log routing, audit, trust.

    A control weakened (shorter retention, audit moved, another trusted principal) counts as `wider`: it
    widens what can happen unseen or who can act, and `--fail-on` treats it like a widening.
    """

    environment: str
    changes: tuple[Change, ...]
    verdict: Verdict
    compiled: str  # full: both platforms compiled (stack config changed) | incremental: from the changed specs
    stack_files: tuple[str, ...] = ()  # this environment's stack configs that changed


@dataclass(frozen=True)
class StackCodeDiff(_Tally):
    """What one stack's program registers differently when the head's specs are compiled by the head's own code."""

    stack: str
    environment: str
    changes: tuple[Change, ...]  # system "code": subject = resource (`type name`), field = the input or option
    verdict: Verdict


@dataclass(frozen=True)
class CodeDiff(_Tally):
    """Changes caused by agentiam's own code (`agentiam.diff.toolchange`): files that can change what deploys.

    `general` says what is known without compiling (the review gate changed; the code's effect was not compiled;
    compiled and no effect); `stacks` holds every difference between the two snapshots, per stack.
    """

    files: tuple[str, ...]  # changed paths (base...head) that can change what deploys, gate files included
    gate_files: tuple[str, ...]  # of which: the review gate itself (.github/)
    compared: tuple[str, ...]  # stacks whose base-code and head-code snapshots were compared
    general: tuple[Change, ...]
    stacks: tuple[StackCodeDiff, ...]
    verdict: Verdict

    @property
    def changes(self) -> tuple[Change, ...]:  # type: ignore[override]
        return self.general + tuple(c for s in self.stacks for c in s.changes)


@dataclass
class DiffReport:
    """The whole diff between two revisions; what every renderer (Markdown, text, JSON, GitHub) reads."""

    base: str
    head: str
    agents: list[AgentDiff]
    findings: list[Finding]  # guardrail violations of the changed specs at head
    changed_spec_files: list[str]
    changed_stack_files: list[str]
    specs_compiled: int  # spec files loaded at both revisions together (the point of compiling only changes)
    notes: list[str] = field(default_factory=list)
    catalogue_version: str = ""
    accounts: dict[str, str] = field(default_factory=dict)  # environment -> account id, for writers
    environments: list[EnvironmentDiff] = field(default_factory=list)  # only environments with changes
    rest_lookups: int = 0  # `git grep` look-ups of unchanged specs the incremental platform diff needed
    code: CodeDiff | None = None  # changes caused by agentiam's own code; None when no such file changed

    @property
    def changed(self) -> list[AgentDiff]:
        return [a for a in self.agents if a.verdict is not Verdict.NO_CHANGE]

    def verdict_counts(self) -> dict[Verdict, int]:
        counts = dict.fromkeys(Verdict, 0)
        for agent in self.agents:
            counts[agent.verdict] += 1
        return counts
