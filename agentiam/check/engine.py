"""`agentiam check`: agent events (agentiam.audit) judged against each agent's plan, for one time window.

One pass over the events, memory bounded by the number of agents and grants, never by the input: per agent it
keeps which grants were used, tallies (counts and the earliest few records) of what it was refused or did outside
its scope, and at most `failure_cap` failed-login times (beyond that a burst is certain, see `_failure_cap`).
"""

from __future__ import annotations

import ipaddress
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from agentiam.audit.identities import IdentityIndex, KnownAgent
from agentiam.audit.model import AgentEvent, Category, Result, Source, format_time
from agentiam.audit.reader import ReadStats
from agentiam.check import rules as R
from agentiam.check.grants import AgentGrants, Grant, agent_grants
from agentiam.check.history import History
from agentiam.check.model import AgentActivity, CheckFinding, CheckReport, Tally
from agentiam.check.rules import Level
from agentiam.environment.model import EnvironmentConfig
from agentiam.plan.locate import status_path
from agentiam.spec.validate import LoadedSpec

DAY = 86400.0
DEPLOY_GRACE_S = 900.0  # between the commit suspending an agent and `pulumi up` deploying its kill switch
MIN_SLACK_S = 5.0
MAX_KEYS = 200  # distinct refused actions (or origins) tallied per agent; more go to one "other" tally
OTHER = "(other)"


@dataclass(frozen=True)
class CheckOptions:
    """The window and thresholds of one run."""

    since: float
    until: float
    auth_threshold: int = 5  # failed logins ...
    auth_window: float = 900.0  # ... within this many seconds make a burst (Vault's lockout defaults)
    environments: tuple[str, ...] = ()  # judge unused grants here; empty: every environment the input shows

    @property
    def slack(self) -> float:
        """How far inside the window the input may start or end and still count as covering it: a thirtieth of
        the window (a day of a month), at least MIN_SLACK_S (a live log's last line is seconds old)."""
        return max(MIN_SLACK_S, min(DAY, (self.until - self.since) / 30))


def _networks(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass
class _Tallies:
    """Tallies keyed by what they are about, at most MAX_KEYS of them (attackers choose the keys)."""

    by_key: dict[str, Tally] = field(default_factory=dict)

    def add(self, key: str, event: AgentEvent, detail: str = "") -> None:
        tally = self.by_key.get(key)
        if tally is None:
            key = key if len(self.by_key) < MAX_KEYS else OTHER
            tally = self.by_key.setdefault(key, Tally())
        tally.add(event, detail)


@dataclass
class _Failures:
    """Failed-login times (at most `cap`) and their tally."""

    cap: int
    times: array = field(default_factory=lambda: array("d"))
    tally: Tally = field(default_factory=Tally)

    def add(self, event: AgentEvent) -> None:
        self.tally.add(event, event.remote_address)
        if len(self.times) < self.cap:
            self.times.append(event.time)

    def burst(self, threshold: int, window: float) -> tuple[int, float, float] | None:
        """(most failures within one window, its start, its end), or None below the threshold."""
        times = sorted(self.times)
        best, start, end, left = 0, 0.0, 0.0, 0
        for right, moment in enumerate(times):
            while moment - times[left] > window:
                left += 1
            if right - left + 1 > best:
                best, start, end = right - left + 1, times[left], moment
        if best >= threshold:
            return best, start, end
        if self.tally.count > self.cap:  # more failures than fit without a burst (pigeonhole, see _failure_cap)
            return threshold, self.tally.first, self.tally.last
        return None


@dataclass
class _AgentState:
    known: KnownAgent
    grants: AgentGrants
    activity: AgentActivity
    expiry: float
    inactive_since: float | None  # None: active; -inf: inactive since an unknown time
    networks: list
    failures: _Failures
    denied: _Tallies = field(default_factory=_Tallies)
    undeclared: _Tallies = field(default_factory=_Tallies)
    after_expiry: Tally = field(default_factory=Tally)
    inactive_allowed: Tally = field(default_factory=Tally)
    inactive_refused: Tally = field(default_factory=Tally)
    outside_allowed: _Tallies = field(default_factory=_Tallies)
    outside_refused: _Tallies = field(default_factory=_Tallies)


class CheckEngine:
    """Feed it events (`consume`), then `report`."""

    def __init__(self, index: IdentityIndex, options: CheckOptions, specs: dict[str, LoadedSpec],
                 environments: dict[str, EnvironmentConfig], history: History):
        self.index = index
        self.options = options
        self.specs = specs
        self.history = history
        self.outside_window = 0
        self._unattributed: dict[str, _Failures] = {}
        cap = self._failure_cap()
        self._states: dict[str, _AgentState] = {}
        for known in index.agents():
            entry = known.plan
            loaded = specs.get(entry.source_file)
            inactive: float | None = None
            if entry.status != "active":
                inactive = self._status_since(known, loaded)
            self._states[known.identity] = _AgentState(
                known, agent_grants(entry, loaded, environments.get(known.environment)),
                AgentActivity(known.agent, known.environment), _expiry(entry.expires), inactive,
                _networks({*entry.vault.approle.token_bound_cidrs, *entry.vault.token_role.token_bound_cidrs}),
                _Failures(cap))

    def _failure_cap(self) -> int:
        """Failed-login times kept per agent: with more than (threshold - 1) per burst window over the whole check
        window, some window must hold a burst (pigeonhole), so keeping more would not change the verdict."""
        windows = math.ceil(max(1.0, self.options.until - self.options.since) / self.options.auth_window)
        return (self.options.auth_threshold - 1) * windows + 1

    def _status_since(self, known: KnownAgent, loaded: LoadedSpec | None) -> float:
        """When the spec line making the agent inactive here was committed (-inf when git cannot say)."""
        if loaded is None:
            return float("-inf")
        line, _ = loaded.document.position(status_path(loaded.spec, known.environment))
        since = self.history.since(loaded.file, [line])
        return since if since is not None else float("-inf")

    def consume(self, events: Iterable[AgentEvent]) -> None:
        """Judge every event of the window."""
        since, until = self.options.since, self.options.until
        for event in events:
            if event.time < since or event.time > until:
                self.outside_window += 1
                continue
            state = self._states.get(event.identity) if event.identity else None
            if state is None:
                if event.category is Category.AUTHENTICATION and event.result is Result.DENIED:
                    key = f"{event.environment or '?'}\x00{event.mount}\x00{event.remote_address}"
                    failures = self._unattributed.get(key)
                    if failures is None and len(self._unattributed) < MAX_KEYS:
                        failures = self._unattributed.setdefault(key, _Failures(self._failure_cap()))
                    if failures is not None:
                        failures.add(event)
                continue
            self._judge(state, event)

    def _judge(self, state: _AgentState, event: AgentEvent) -> None:
        activity = state.activity
        activity.events += 1
        activity.first = event.time if activity.first is None else min(activity.first, event.time)
        activity.last = event.time if activity.last is None else max(activity.last, event.time)
        allowed = event.result is Result.ALLOWED
        refused = event.result is Result.DENIED
        if event.category is Category.AUTHENTICATION:
            if refused:
                activity.failed_logins += 1
                state.failures.add(event)
            elif allowed:
                activity.logins += 1
        inactive = state.inactive_since is not None and event.time > state.inactive_since + DEPLOY_GRACE_S
        if inactive:
            if allowed:
                state.inactive_allowed.add(event, _what(event))
            elif refused and event.category is not Category.AUTHENTICATION:
                state.inactive_refused.add(event, _what(event))
        elif event.category is Category.ACCESS:
            if allowed:
                self._used(state, event)
            elif refused:
                activity.denied += 1
                state.denied.add(f"{event.source.value}\x00{event.action}\x00{event.resource}", event, event.error)
        if allowed and event.time >= state.expiry:
            state.after_expiry.add(event, _what(event))
        if event.source is Source.VAULT and state.networks and event.remote_address:
            address = _address(event.remote_address)
            if address is None or not any(address in network for network in state.networks):
                target = state.outside_allowed if allowed else state.outside_refused
                target.add(event.remote_address, event, _what(event))

    def _used(self, state: _AgentState, event: AgentEvent) -> None:
        grants = state.grants
        if event.source is Source.AWS:
            for grant in grants.aws_match(event.action, event.resource):
                grant.used = True
            if not grants.aws_declared(event.action):
                state.undeclared.add(f"aws\x00{event.action}\x00{event.resource}", event, "")
        else:
            used, declared = grants.vault(event.action, event.resource)
            for grant in used:
                grant.used = True
            if not declared:
                state.undeclared.add(f"vault\x00{event.action}\x00{event.resource}", event,
                                     "token policies: " + ", ".join(event.policies))

    # -- the report ------------------------------------------------------------------------------------------

    def report(self, stats: ReadStats) -> CheckReport:
        """Findings, activity and notes once every event is consumed."""
        options = self.options
        findings: list[CheckFinding] = []
        notes: list[str] = []
        seen_envs = sorted({s.known.environment for s in self._states.values() if s.activity.events}
                           | {k.split("\x00")[0] for k in self._unattributed if not k.startswith("?")})
        judged_envs = list(options.environments) or seen_envs
        unused = self._unused(stats, judged_envs, notes)
        for state in self._states.values():
            findings.extend(self._agent_findings(state))
        findings.extend(unused)
        findings.extend(self._unattributed_findings())
        for env in sorted(set(judged_envs) - self.index.audit_ids_loaded):
            notes.append(f"{env}: no audit ids loaded (agentiam audit-ids): failed AppRole and certificate logins "
                         "cannot be attributed to agents; they are reported per auth mount (CHK021)")
        if self.history.root is None:
            notes.append("the specs are not in a git repository: when each grant was made is unknown, so unused "
                         "permissions are not judged and suspensions are dated at the window's start")
        elif self.history.shallow:
            notes.append("the git history is shallow: every line dates from its cut, so grants look young and "
                         "may not be judged; fetch the full history")
        if stats.unpaired:
            notes.append(f"{stats.unpaired} Vault request line(s) had no response line (a stopped server, a "
                         "rotated log): counted from the request alone")
        if stats.malformed or stats.oversized:
            notes.append(f"{stats.malformed} malformed and {stats.oversized} oversized line(s) skipped")
        activity = sorted((s.activity for s in self._states.values()
                           if s.activity.events or s.known.environment in judged_envs),
                          key=lambda a: (a.environment, a.agent))
        return CheckReport(
            since=options.since, until=options.until, environments=judged_envs,
            findings=sorted(findings, key=lambda f: f.sort_key), activity=activity, notes=notes,
            input=_input_summary(stats, self.outside_window),
            problems=[*stats.damaged])

    def _covered(self, stats: ReadStats, source: Source, account: str) -> bool:
        coverage = stats.coverage[source] if source is Source.VAULT else stats.accounts.get(account)
        if coverage is None or coverage.first is None or coverage.last is None:
            return False
        slack = self.options.slack
        return coverage.first <= self.options.since + slack and coverage.last >= self.options.until - slack

    def _unused(self, stats: ReadStats, judged_envs: list[str], notes: list[str]) -> list[CheckFinding]:
        """Unused-grant findings, with a spec edit suggested only where the grant is unused in every environment
        the spec deploys to (each judged): a spec is one file for all of them."""
        per_grant: dict[tuple[str, tuple], dict[str, bool | None]] = {}  # (file, spec path) -> env -> unused?
        candidates: list[tuple[_AgentState, Grant, CheckFinding]] = []
        for state in self._states.values():
            known, activity = state.known, state.activity
            activity.grants = len(state.grants.grants)
            loaded = self.specs.get(known.plan.source_file)
            reason = self._not_judged(state, loaded, judged_envs)
            for grant in state.grants.grants:
                key = (known.plan.source_file, grant.spec_path)
                verdicts = per_grant.setdefault(key, {})
                source = Source.AWS if grant.system == "aws" else Source.VAULT
                why = reason or ("" if self._covered(stats, source, known.account_id) else
                                 f"the {'CloudTrail' if source is Source.AWS else 'Vault audit'} input does not "
                                 "cover the window")
                if not why and loaded is not None:
                    env_line = _environment_line(loaded, known.environment)
                    grant.since = self.history.since(loaded.file, [grant.line, env_line])
                    if grant.since is None:
                        why = "no git history for the spec"
                    elif grant.since > self.options.since:
                        why = f"granted since {format_time(grant.since)}, within the window"
                if why:
                    verdicts[known.environment] = None if not grant.used else False
                    if not activity.not_judged_because:
                        activity.not_judged_because = why
                    continue
                activity.judged = True
                verdicts[known.environment] = not grant.used
                if not grant.used:
                    activity.unused += 1
                    candidates.append((state, grant, _unused_finding(state, grant)))
            if activity.not_judged_because and activity.judged:
                activity.not_judged_because = ""
        findings = []
        for state, grant, finding in candidates:
            loaded = self.specs.get(state.known.plan.source_file)
            verdicts = per_grant[(state.known.plan.source_file, grant.spec_path)]
            everywhere = loaded.spec.environments if loaded is not None else []
            if everywhere and all(verdicts.get(env) is True for env in everywhere):
                finding.suggestion = _removal(grant)
                finding.removal = grant.spec_path
            else:
                used = sorted(env for env, v in verdicts.items() if v is False)
                unknown = sorted(env for env in everywhere if verdicts.get(env) is None)
                finding.suggestion = "keep it in the spec: " + "; ".join(
                    part for part in (f"used in {', '.join(used)}" if used else "",
                                      f"not judged in {', '.join(unknown)}" if unknown else "") if part)
            findings.append(finding)
        return findings

    def _not_judged(self, state: _AgentState, loaded: LoadedSpec | None, judged_envs: list[str]) -> str:
        if state.known.environment not in judged_envs:
            return "no records of this environment in the input (name it with --env to judge it anyway)"
        if state.known.plan.status != "active":
            return f"{state.known.plan.status}: the plan grants nothing"
        if loaded is None:
            return "its spec is not loaded"
        return ""

    def _agent_findings(self, state: _AgentState) -> list[CheckFinding]:
        known, out = state.known, []
        file = known.plan.source_file
        loaded = self.specs.get(file)

        def located(path: tuple, rule: R.CheckRule, level: Level, subject: str, message: str, tally: Tally,
                    suggestion: str) -> CheckFinding:
            line, column = loaded.document.position(path) if loaded is not None else (1, 1)
            return CheckFinding(rule.id, level, known.agent, known.environment, subject, message, tally.count,
                                tally.first, tally.last, tally.evidence(), suggestion, file, line, column,
                                ".".join(map(str, path)))

        for key, tally in state.denied.by_key.items():
            source, action, resource = key.split("\x00") if key != OTHER else ("", OTHER, "")
            rule = R.AWS_DENIED if source == "aws" else R.VAULT_DENIED
            subject = f"{action} {resource}".strip()
            granted = (state.grants.aws_declared(action) if source == "aws"
                       else state.grants.vault_declared(action, resource))
            message = (f"refused {tally.count} time(s) although the plan grants it: the deployment differs from "
                       "the plan" if granted else f"attempted {tally.count} time(s); the spec does not grant it")
            out.append(located(("permissions",), rule, rule.severity, subject, message, tally,
                               "grant it in a reviewed spec change if the agent needs it; otherwise find out why "
                               "it tried"))
        for key, tally in state.undeclared.by_key.items():
            source, action, resource = key.split("\x00") if key != OTHER else ("", OTHER, "")
            out.append(located(("permissions",), R.UNDECLARED, Level.HIGH, f"{action} {resource}".strip(),
                               f"{source or 'a'} request allowed {tally.count} time(s) that no rule of the plan "
                               "grants", tally, "find who changed the deployment; `pulumi up` restores the plan"))
        if state.after_expiry.count:
            out.append(located(("expires",), R.AFTER_EXPIRY, Level.HIGH, known.plan.expires,
                               f"used {state.after_expiry.count} time(s) after it expired ({known.plan.expires})",
                               state.after_expiry, "renew `expires` in a reviewed change, or revoke the agent"))
        since = state.inactive_since
        when = "an unknown time (no git history)" if since == float("-inf") else format_time(since) if since else ""
        if state.inactive_allowed.count:
            out.append(located(("status",), R.WHILE_INACTIVE, Level.HIGH if since != float("-inf") else Level.MEDIUM,
                               known.plan.status, f"{state.inactive_allowed.count} request(s) allowed while "
                               f"{known.plan.status} (since {when}): the kill switch is not deployed",
                               state.inactive_allowed,
                               f"run `agentiam revoke {known.agent} --env {known.environment}` and `pulumi up`"))
        if state.inactive_refused.count:
            out.append(located(("status",), R.WHILE_INACTIVE, Level.MEDIUM, known.plan.status,
                               f"{state.inactive_refused.count} request(s) refused while {known.plan.status} (since "
                               f"{when}): the agent is still running", state.inactive_refused,
                               "stop the agent's deployment"))
        for key, tally in state.outside_allowed.by_key.items():
            out.append(located(("authentication", "bound_cidrs"), R.OUTSIDE_NETWORKS, Level.HIGH, key,
                               f"{tally.count} request(s) from {key} allowed, outside "
                               f"{', '.join(map(str, state.networks))}: the binding is not deployed", tally,
                               "revoke the agent's tokens and redeploy; find who used them from there"))
        for key, tally in state.outside_refused.by_key.items():
            out.append(located(("authentication", "bound_cidrs"), R.OUTSIDE_NETWORKS, Level.MEDIUM, key,
                               f"{tally.count} request(s) from {key} refused, outside "
                               f"{', '.join(map(str, state.networks))}", tally,
                               "if the agent moved, change `bound_cidrs` in a reviewed change; if not, rotate its "
                               "credentials"))
        burst = state.failures.burst(self.options.auth_threshold, self.options.auth_window)
        if burst is not None:
            most, start, end = burst
            tally = state.failures.tally
            out.append(located(("authentication",), R.AUTH_FAILURES, R.AUTH_FAILURES.severity, "logins",
                               f"{tally.count} failed login(s), {most} within {int(self.options.auth_window)} s "
                               f"({format_time(start)} to {format_time(end)})", tally,
                               "fix the deployment if it is the agent; otherwise rotate its role id and "
                               "certificate"))
        return out

    def _unattributed_findings(self) -> list[CheckFinding]:
        out = []
        for key, failures in sorted(self._unattributed.items()):
            burst = failures.burst(self.options.auth_threshold, self.options.auth_window)
            if burst is None:
                continue
            env, mount, remote = key.split("\x00")
            tally = failures.tally
            out.append(CheckFinding(
                R.AUTH_UNATTRIBUTED.id, R.AUTH_UNATTRIBUTED.severity, None, None if env == "?" else env,
                f"auth/{mount}/login from {remote or 'unknown address'}",
                f"{tally.count} failed login(s) matching no agent, {burst[0]} within "
                f"{int(self.options.auth_window)} s", tally.count, tally.first, tally.last, tally.evidence(),
                "load the audit ids (agentiam audit-ids) to attribute them; look at the origin address"))
        return out


def _what(event: AgentEvent) -> str:
    return f"{event.action} {event.resource}".strip()


def _expiry(expires: str) -> float:
    """The end of the spec's expiry date (UTC): it is refused after that day."""
    from agentiam.audit.model import parse_time

    moment = parse_time(f"{expires}T00:00:00Z")
    return (moment if moment is not None else float("inf")) + DAY


def _environment_line(loaded: LoadedSpec, environment: str) -> int:
    environments = loaded.spec.environments
    index = environments.index(environment) if environment in environments else 0
    return loaded.document.position(("environments", index))[0]


def _unused_finding(state: _AgentState, grant: Grant) -> CheckFinding:
    rule = {"aws": R.UNUSED_AWS, "kv": R.UNUSED_KV, "database": R.UNUSED_DATABASE}[grant.system]
    known = state.known
    return CheckFinding(rule.id, rule.severity, known.agent, known.environment, grant.subject,
                        f"granted since {format_time(grant.since) if grant.since else 'unknown'}, not used in the "
                        "window", 0, None, None, [], None, known.plan.source_file, grant.line, grant.column,
                        grant.field)


def _removal(grant: Grant) -> str:
    return f"remove {grant.field} (unused in every environment of the spec): agentiam check --suggest"


def _input_summary(stats: ReadStats, outside: int) -> dict:
    def span(coverage) -> dict:
        return {"records": coverage.records,
                "first": format_time(coverage.first) if coverage.first is not None else None,
                "last": format_time(coverage.last) if coverage.last is not None else None}

    return {"files": stats.files, "lines": stats.lines, "agent_events": stats.events,
            "outside_window": outside, "malformed": stats.malformed, "oversized": stats.oversized,
            "unpaired_requests": stats.unpaired, "vault": span(stats.coverage[Source.VAULT]),
            "aws": span(stats.coverage[Source.AWS]),
            "aws_accounts": {account: span(c) for account, c in sorted(stats.accounts.items())}}
