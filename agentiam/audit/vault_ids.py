"""Asks Vault what its audit log calls each agent: entity id, and the HMACs of the role id and identity name.

Imported only by `agentiam audit-ids` and by `check`/`events` given `--vault-addr` (it imports hvac). Every call has
a socket timeout and the whole run a deadline; reads are retried on connection errors, a few times, within the
deadline (docs/facts.md#vault-audit: `sys/audit-hash/<device>` HMACs a value with the device's own key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agentiam.audit.identities import AuditIds
from agentiam.client.errors import NotFound, VaultRequestError
from agentiam.client.vault import Backoff, VaultApi
from agentiam.plan.model import IdentityPlan

TIMEOUT = (3.0, 10.0)  # (connect, read) seconds per request: a hung Vault costs seconds, not minutes
BACKOFF = Backoff(attempts=3, base=0.2, cap=1.0)
DEFAULT_DEADLINE_S = 60.0


@dataclass
class IdsResult:
    """The ids of every agent Vault knows, and the agents it does not know (never applied there, or removed)."""

    ids: dict[str, AuditIds]
    missing: list[str]


def fetch_audit_ids(plan: IdentityPlan, address: str, token: str, *, device: str | None = None,
                    ca_cert: str | None = None, deadline_s: float = DEFAULT_DEADLINE_S,
                    sleep: Callable[[float], None] = time.sleep) -> IdsResult:
    """For every agent of `plan`: GET `identity/entity/name/<identity>` (entity id), GET
    `auth/<approle>/role/<identity>/role-id`, then PUT `sys/audit-hash/<device>` for the role id and for the
    identity name (a certificate login logs the HMAC of the cert role's name, which is the identity name).

    The role id itself is never returned nor written. Raises the client's VaultRequestError (naming the path) when
    Vault refuses, is down, hangs past the deadline or answers too slowly."""
    api = VaultApi(address, ca_cert=ca_cert, timeout=TIMEOUT, backoff=BACKOFF, sleep=sleep)
    device = device or plan.platform.log_routing.audit.path
    until = time.monotonic() + deadline_s
    ids: dict[str, AuditIds] = {}
    missing: list[str] = []
    try:
        for entry in plan.agents:
            identity = entry.identity_name
            try:
                entity = api.call("GET", f"identity/entity/name/{entry.vault.entity.name}", token=token,
                                  idempotent=True, deadline=until)
                role = api.call("GET", f"auth/{entry.vault.approle.mount}/role/{entry.vault.approle.role_name}"
                                       "/role-id", token=token, idempotent=True, deadline=until)
            except NotFound:
                missing.append(identity)
                continue
            entity_id = str((entity.get("data") or {}).get("id") or "")
            role_id = str((role.get("data") or {}).get("role_id") or "")
            if not entity_id or not role_id:  # Vault answers 204 (no body) for an entity name it does not know
                missing.append(identity)
                continue
            ids[identity] = AuditIds(entity_id=entity_id, role_id_hmac=_hash(api, token, device, role_id, until),
                                     name_hmac=_hash(api, token, device, entry.vault.cert.role_name, until))
    finally:
        api.close()
    return IdsResult(ids, missing)


def _hash(api: VaultApi, token: str, device: str, value: str, until: float) -> str:
    answer = api.call("PUT", f"sys/audit-hash/{device}", token=token, json={"input": value}, idempotent=True,
                      deadline=until)
    hashed = (answer.get("data") or {}).get("hash") or answer.get("hash")
    if not isinstance(hashed, str) or not hashed:
        raise VaultRequestError(f"sys/audit-hash/{device}", "Vault answered without a hash")
    return hashed

