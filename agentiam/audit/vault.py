"""Vault/OpenBao audit lines -> agent events: one per request, its request and response lines paired by `request.id`.

What a line says (docs/facts.md#vault-audit): `type` (request or response), `time`, `error`, `auth.{entity_id,
policies, metadata.role_name, metadata.cert_name}`, `request.{id, operation, path, remote_address, data}`. Strings a
request carried are HMAC'd: a failed AppRole login shows only `request.data.role_id` as an HMAC, a certificate login
`request.data.name`. ACL denials say `permission denied` in `error`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from agentiam.audit.identities import IdentityIndex, KnownAgent
from agentiam.audit.model import AgentEvent, Category, Recognised, Result, Source, parse_time, short_error

TOKEN_ROLE_PREFIX = "auth/token/create/"
# Requests whose response line has not come yet. Vault writes both lines around the request, so only requests in
# flight wait here (as their raw line); beyond this many, the oldest is dropped and counted (its response, if it
# still comes, makes the event), so memory stays bounded whatever the input.
MAX_PENDING = 2_000
NO_RESPONSE = "no response line in the audit log"
# Vault writes `{"time":...,"type":"request","auth":{...},"request":{"id":"..."`: a request line is only held until
# its response comes, so its id is found without decoding the whole line. A JSON string cannot contain an unescaped
# quote, so this sequence cannot come from a value; a line where it is missing is decoded instead.
_REQUEST_LINE = b'"type":"request"'
_REQUEST_ID = re.compile(rb'"request":\{"id":"([^"\\]*)"')


_ALLOWED, _DENIED, _ERROR = Result.ALLOWED, Result.DENIED, Result.ERROR
_VAULT, _AUTHENTICATION, _ACCESS = Source.VAULT, Category.AUTHENTICATION, Category.ACCESS


def _recognise(auth: dict[str, Any], request: dict[str, Any], path: str,
               index: IdentityIndex) -> tuple[KnownAgent | None, Recognised]:
    """The agent a line belongs to, strongest evidence first (see `Recognised`)."""
    entity = auth.get("entity_id")
    if entity:
        known = index.by_entity.get(entity)
        if known is not None:
            return known, Recognised.ENTITY
    metadata = auth.get("metadata")
    if type(metadata) is dict:
        for key in ("role_name", "cert_name"):
            name = metadata.get(key)
            if type(name) is str:
                known = index.by_identity.get(name)
                if known is not None:
                    return known, Recognised.ROLE
    policies = auth.get("policies")
    if type(policies) is list:
        for policy in policies:
            known = index.by_policy.get(policy) if type(policy) is str else None
            if known is not None:
                return known, Recognised.POLICY
    if path.startswith(TOKEN_ROLE_PREFIX):
        known = index.by_identity.get(path[len(TOKEN_ROLE_PREFIX):])
        if known is not None:
            return known, Recognised.TOKEN_ROLE
    if path in index.login_paths:
        data = request.get("data")
        if type(data) is dict:
            value = data.get("role_id")
            known = index.by_role_id_hmac.get(value) if type(value) is str else None
            if known is not None:
                return known, Recognised.ROLE_ID_HASH
            value = data.get("name")
            known = index.by_name_hmac.get(value) if type(value) is str else None
            if known is not None:
                return known, Recognised.NAME_HASH
    return None, Recognised.NONE


def vault_event(line: dict[str, Any], origin: str, index: IdentityIndex) -> AgentEvent | None:
    """The agent event of one parsed audit line, or None when it is no agent's (an operator, Vault itself).

    A login on an agent auth mount that no agent's name matches is kept, unattributed: failed logins against
    agents' mounts are what brute force looks like."""
    request = line.get("request")
    if type(request) is not dict:
        return None
    path = request.get("path")
    if type(path) is not str:
        return None
    auth = line.get("auth")
    if type(auth) is not dict:
        auth = {}
    known, how = _recognise(auth, request, path, index)
    login = path in index.login_paths
    if known is None and not login:
        return None
    when = parse_time(line.get("time"))
    if when is None:
        return None
    error = line.get("error")
    authentication = login or path.startswith(TOKEN_ROLE_PREFIX)
    if not error:
        result = _ALLOWED
    elif authentication or "permission denied" in str(error):
        result = _DENIED
    else:
        result = _ERROR
    operation = request.get("operation")
    remote = request.get("remote_address")
    rid = request.get("id")
    policies = auth.get("policies")
    # positional: keyword arguments to a slotted dataclass of this size cost several times more (bench_check.py)
    return AgentEvent(
        when, _VAULT, _AUTHENTICATION if authentication else _ACCESS, operation if type(operation) is str else "",
        path, result, known.agent if known else None,
        known.environment if known else index.login_paths.get(path), known.identity if known else None, how,
        remote if type(remote) is str else "", short_error(error) if error else "", [origin],
        [rid] if type(rid) is str else [], path[5:-6] if login else "",
        tuple(p for p in policies if type(p) is str) if type(policies) is list else ())


class VaultPairing:
    """Pairs request and response lines by `request.id`: one event per request, from its response line (which
    repeats the request and adds the outcome), locating both lines. A request whose response never comes (the
    server stopped, the log was rotated between them) is emitted alone at the end; one pushed out of the window of
    MAX_PENDING requests in flight is counted in `unpaired` only, so no request ever makes two events."""

    def __init__(self, index: IdentityIndex, loads: Callable[[bytes], Any], max_pending: int = MAX_PENDING,
                 observe: Callable[[dict[str, Any], str], None] | None = None):
        self._index = index
        self.observe = observe  # sees every response line (and a request line read alone): `read_events`
        self._loads = loads
        self._max = max_pending
        self._pending: OrderedDict[str, tuple[str, bytes | dict[str, Any]]] = OrderedDict()
        self.unpaired = 0

    @staticmethod
    def request_id(raw: bytes) -> str | None:
        """The id of a request line, read without decoding it; None if `raw` is not one (decode it then)."""
        if _REQUEST_LINE not in raw[:120]:
            return None
        match = _REQUEST_ID.search(raw)
        return match.group(1).decode("utf-8", "replace") if match else None

    def request(self, rid: str, origin: str, raw: bytes) -> None:
        """Hold a request line until its response."""
        self._pending[rid] = (origin, raw)
        self._bound()

    def _bound(self) -> None:
        if len(self._pending) > self._max:
            self._pending.popitem(last=False)
            self.unpaired += 1

    def line(self, line: dict[str, Any], origin: str) -> AgentEvent | None:
        """A decoded line: a response (paired with its request), or a request line held like `request`."""
        request = line.get("request")
        rid = request.get("id") if type(request) is dict else None
        if line.get("type") == "request" and type(rid) is str:
            self._pending[rid] = (origin, line)
            self._bound()
            return None
        event = vault_event(line, origin, self._index)
        if self.observe is not None:
            self.observe(line, origin)
        first = self._pending.pop(rid, None) if type(rid) is str else None
        if event is not None and first is not None:
            event.lines.insert(0, first[0])
        return event

    def _alone(self, origin: str, raw: bytes | dict[str, Any]) -> AgentEvent | None:
        self.unpaired += 1
        try:
            line = self._loads(raw) if type(raw) is bytes else raw
        except ValueError:
            return None
        event = vault_event(line, origin, self._index) if type(line) is dict else None
        if event is not None and event.result is Result.ALLOWED:
            event.result, event.error = Result.ERROR, NO_RESPONSE
        return event

    def flush(self) -> Iterator[AgentEvent]:
        """Every request still waiting for its response (end of input)."""
        while self._pending:
            event = self._alone(*self._pending.popitem(last=False)[1])
            if event is not None:
                yield event
