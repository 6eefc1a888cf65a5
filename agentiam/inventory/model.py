"""The inventory model every writer reads: one entry per agent x environment, taken from the identity plan, with its
blast radius (a tier and the reasons for it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Tier(str, Enum):
    """How much a compromise of the identity could reach, lowest first (`TIER_ORDER`)."""

    NONE = "none"  # inactive: the kill switch denies everything, the entity is disabled
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return TIER_ORDER.index(self)


TIER_ORDER = (Tier.NONE, Tier.LOW, Tier.MEDIUM, Tier.HIGH, Tier.CRITICAL)


@dataclass(frozen=True, order=True)
class TierReason:
    """Why an identity is in its tier: the rule (`agentiam.inventory.blast.TIER_RULES`) and what triggered it."""

    rule: str
    tier: Tier
    reason: str  # names the actions, resources, databases, paths or hosts concerned (values from the plan)


class TargetKind(str, Enum):
    """What kind of thing a blast-radius target is (the writers show these words as they are)."""

    AWS = "AWS resource"
    DATABASE = "database"
    VAULT = "Vault path"
    HOST = "external host"
    ACCOUNT = "AWS account"


@dataclass(frozen=True, order=True)
class Target:
    """Something a compromised identity could read, change or send data to."""

    kind: TargetKind
    name: str  # an ARN, `billing (schemas public)`, a Vault path, `host:port`, an account id


@dataclass(frozen=True)
class BlastRadius:
    """What the identity could read, change or send out if compromised, summarised as a tier with its reasons."""

    tier: Tier
    reasons: tuple[TierReason, ...]  # worst first
    reads: tuple[Target, ...]
    changes: tuple[Target, ...]
    sends_to: tuple[Target, ...]  # external hosts and other accounts


@dataclass(frozen=True)
class AwsGrant:
    """One statement of the agent's IAM policy, with the catalogue's access levels and how much its resources reach."""

    sid: str
    actions: tuple[str, ...]  # as granted (a wildcard stays a wildcard)
    access_levels: tuple[str, ...]  # every level the actions reach, lowest first
    resources: tuple[str, ...]
    reach: str  # `agentiam.iam.arn.Breadth` label of its widest resource
    accounts: tuple[str, ...]  # the accounts its resources must belong to (aws:ResourceAccount), when conditioned


@dataclass(frozen=True)
class DatabaseGrant:
    """Dynamic database credentials the agent can draw."""

    database: str
    access: str  # read | write
    schemas: tuple[str, ...]
    privileges: tuple[str, ...]
    role: str  # the Vault database role
    lease_ttl: int
    lease_max_ttl: int


@dataclass(frozen=True)
class VaultGrant:
    """A Vault path the agent's policy grants beyond its own token and credentials (KV secrets)."""

    path: str
    capabilities: tuple[str, ...]
    owner: str | None  # the agent whose KV folder holds it (`<folder>/<agent>/...`), when the path says


@dataclass(frozen=True)
class Endpoint:
    """An external host the agent's egress allow-list names."""

    host: str
    port: int
    purpose: str


@dataclass(frozen=True)
class Credentials:
    """What the identity holds and how long each credential lives (seconds)."""

    token_ttl: int
    token_max_ttl: int
    secret_id_ttl: int
    secret_id_num_uses: int
    aws_session_ttl: int | None  # None: no AWS credentials (no AWS grant, or inactive)
    aws_role_arn: str
    certificate_common_name: str
    bound_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class InventoryEntry:
    """One agent in one environment."""

    agent: str
    environment: str
    identity_name: str
    function: str
    status: str
    description: str
    owner_team: str
    sponsor: str
    contact: str
    expires: str
    expires_in_days: int  # negative once expired
    source_file: str
    spec_digest: str
    deployed_in: tuple[str, ...]  # every environment of the inventory the agent has an identity in
    credentials: Credentials
    aws: tuple[AwsGrant, ...]
    aws_usable: bool  # False when a kill switch denies every action (the grants are shown, none works)
    databases: tuple[DatabaseGrant, ...]
    vault: tuple[VaultGrant, ...]
    egress: tuple[Endpoint, ...]
    vault_login_rate: str | None  # `100/1m`: the Vault quota on its AppRole logins, not on egress calls
    shared_with: tuple[tuple[str, tuple[str, ...]], ...]  # (path, agents) of its own secrets other agents may read
    blast: BlastRadius

    @property
    def expired(self) -> bool:
        return self.expires_in_days < 0


@dataclass(frozen=True)
class EnvironmentInfo:
    """An environment the inventory covers."""

    name: str
    account_id: str
    region: str


@dataclass(frozen=True)
class Inventory:
    """Every agent x environment of the selected environments, as of `today`."""

    today: str
    environments: tuple[EnvironmentInfo, ...]
    entries: tuple[InventoryEntry, ...]
    catalogue_version: str
