"""What the logs say about a migration: where each legacy credential was used from and when, where each agent's own
identity has been used from, and the agent's failed logins (docs/migrate.md, *Who owns a legacy credential*).

The logs are those `agentiam check` reads (Vault/OpenBao audit lines, CloudTrail records), through the same reader
(`agentiam.audit.reader`): the agents' own events come from it as they do for `check`; the legacy credentials,
which no agent identity names, are matched on the raw records it passes to an observer:

- an IAM access key or user: CloudTrail `userIdentity` of type `IAMUser`, by `accessKeyId` or `userName`;
- a Vault token: the audit line's `auth.accessor`, which Vault HMACs by default: matched with the HMAC Vault
  itself computes for the accessor (`sys/audit-hash/<device>`), or in clear where the device does not hash it;
- an AppRole role: `auth.metadata.role_name`, on a login through the role's own mount or a request made with a
  token it issued (a request line does not say which mount issued the token: a role name used on two AppRole
  mounts reads as one).

Every value taken from a record is attacker-influenced text: kept as data, shown through `agentiam.render.escape`.
Memory is bounded whatever the input: at most MAX_ADDRESSES addresses per credential or agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentiam.audit.identities import IdentityIndex
from agentiam.audit.model import Category, Result, parse_time
from agentiam.audit.reader import ReadStats, read_events
from agentiam.plan.model import LegacyCredentialPlan

MAX_ADDRESSES = 1000  # per credential or agent; more are counted, not kept
MAX_FAILURES = 100_000  # failed-login times kept per agent


@dataclass
class Seen:
    """Uses from one network address: when first and last, how many, how many refused."""

    first: float
    last: float
    count: int = 0
    refused: int = 0
    last_allowed: float | None = None


@dataclass
class Usage:
    """Where and when something was used, per address (bounded)."""

    addresses: dict[str, Seen] = field(default_factory=dict)
    dropped: int = 0  # uses from addresses beyond MAX_ADDRESSES

    def add(self, when: float, address: str, refused: bool) -> None:
        seen = self.addresses.get(address)
        if seen is None:
            if len(self.addresses) >= MAX_ADDRESSES:
                self.dropped += 1
                return
            seen = self.addresses[address] = Seen(when, when)
        seen.first, seen.last = min(seen.first, when), max(seen.last, when)
        seen.count += 1
        if refused:
            seen.refused += 1
        else:
            seen.last_allowed = when if seen.last_allowed is None else max(seen.last_allowed, when)

    @property
    def last_allowed(self) -> float | None:
        times = [s.last_allowed for s in self.addresses.values() if s.last_allowed is not None]
        return max(times) if times else None

    def refused_since(self, moment: float) -> int:
        """Refused uses at or after `moment`, counted per address whose last use is that late (an upper bound)."""
        return sum(s.refused for s in self.addresses.values() if s.last >= moment)

    def allowed_since(self, moment: float) -> list[tuple[str, float]]:
        """(address, last allowed use) of every address the credential worked from at or after `moment`."""
        return sorted((a, s.last_allowed) for a, s in self.addresses.items()
                      if s.last_allowed is not None and s.last_allowed >= moment)


@dataclass
class AgentActivity:
    """One agent's own identity in the logs: the addresses it was used from (last use each), its failed logins."""

    usage: Usage = field(default_factory=Usage)
    failures: list[float] = field(default_factory=list)

    def addresses_since(self, moment: float) -> set[str]:
        return {a for a, s in self.usage.addresses.items() if s.last_allowed is not None and s.last_allowed >= moment}

    def failures_since(self, moment: float) -> int:
        return sum(1 for t in self.failures if t >= moment)


class LegacyObserver:
    """`read_events` observer: every use of the given legacy credentials, by credential subject."""

    def __init__(self, credentials: Iterable[LegacyCredentialPlan], accessor_hmacs: Mapping[str, str] | None = None):
        self.uses: dict[str, Usage] = {}
        self._keys: dict[str, str] = {}
        self._users: dict[str, str] = {}
        self._accessors: dict[str, str] = {}
        self._roles: dict[str, list[tuple[str, str]]] = {}  # role name -> (login path, subject)
        hmacs = accessor_hmacs or {}
        for credential in credentials:
            subject = credential.subject
            self.uses.setdefault(subject, Usage())
            if credential.kind == "iam-access-key":
                self._keys[credential.name] = subject
            elif credential.kind == "iam-user":
                self._users[credential.name] = subject
            elif credential.kind == "vault-token":
                self._accessors[credential.name] = subject
                if credential.name in hmacs:
                    self._accessors[hmacs[credential.name]] = subject
            else:
                self._roles.setdefault(credential.name, []).append((f"auth/{credential.scope}/login", subject))

    def __call__(self, record: dict[str, Any], origin: str) -> None:
        if "eventSource" in record:
            self._cloudtrail(record)
        else:
            self._vault(record)

    def _cloudtrail(self, record: dict[str, Any]) -> None:
        identity = record.get("userIdentity")
        if type(identity) is not dict or identity.get("type") != "IAMUser":
            return
        key, user = identity.get("accessKeyId"), identity.get("userName")
        subjects = {s for s in (self._keys.get(key) if type(key) is str else None,
                                self._users.get(user) if type(user) is str else None) if s is not None}
        if not subjects:
            return
        when = parse_time(record.get("eventTime"))
        address = record.get("sourceIPAddress")
        if when is None:
            return
        for subject in subjects:
            self.uses[subject].add(when, address if type(address) is str else "", bool(record.get("errorCode")))

    def _vault(self, line: dict[str, Any]) -> None:
        auth, request = line.get("auth"), line.get("request")
        if type(auth) is not dict or type(request) is not dict:
            return
        subjects: set[str] = set()
        accessor = auth.get("accessor")
        if type(accessor) is str and accessor in self._accessors:
            subjects.add(self._accessors[accessor])
        metadata = auth.get("metadata")
        role = metadata.get("role_name") if type(metadata) is dict else None
        if type(role) is str and role in self._roles:
            path = request.get("path")
            for login, subject in self._roles[role]:
                # A login names its mount: one through another mount is another role of the same name.
                if type(path) is not str or not path.endswith("/login") or path == login:
                    subjects.add(subject)
        if not subjects:
            return
        when = parse_time(line.get("time"))
        if when is None:
            return
        address = request.get("remote_address")
        for subject in subjects:
            self.uses[subject].add(when, address if type(address) is str else "", bool(line.get("error")))


@dataclass
class LogEvidence:
    """What the logs said: legacy uses by credential subject, agent activity by (agent, environment)."""

    legacy: dict[str, Usage]
    agents: dict[tuple[str, str], AgentActivity]
    stats: ReadStats
    paths: tuple[str, ...]


def read_logs(paths: Iterable[str], index: IdentityIndex, credentials: Iterable[LegacyCredentialPlan],
              accessor_hmacs: Mapping[str, str] | None = None) -> LogEvidence:
    """One streaming pass over the logs (the reader's formats: files, gzip, CloudTrail documents, envelopes)."""
    paths = tuple(paths)
    observer = LegacyObserver(credentials, accessor_hmacs)
    stats = ReadStats()
    agents: dict[tuple[str, str], AgentActivity] = {}
    for event in read_events(paths, index, stats, observe=observer):
        if event.agent is None or event.environment is None:
            continue
        activity = agents.setdefault((event.agent, event.environment), AgentActivity())
        if event.category is Category.AUTHENTICATION and event.result is Result.DENIED:
            if len(activity.failures) < MAX_FAILURES:
                activity.failures.append(event.time)
        elif event.remote_address:
            activity.usage.add(event.time, event.remote_address, event.result is not Result.ALLOWED)
    return LogEvidence(observer.uses, agents, stats, paths)
