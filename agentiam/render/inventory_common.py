"""Wording shared by the inventory's text and Markdown writers, built in the writer's output kind
(`agentiam.render.escape`): the words are the project's, every value from the inventory is escaped for the kind."""

from __future__ import annotations

from typing import TypeVar

from agentiam.inventory.model import InventoryEntry, Target, TargetKind
from agentiam.render.escape import Trusted, Wording
from agentiam.spec.types import format_duration

K = TypeVar("K", bound=Trusted)
W = Wording
KIND = {TargetKind.AWS: W("AWS"), TargetKind.DATABASE: W("database"), TargetKind.VAULT: W("Vault"),
        TargetKind.HOST: W("external host"), TargetKind.ACCOUNT: W("AWS account")}


def expiry(entry: InventoryEntry, kind: type[K]) -> K:
    """`2027-06-30 (in 211 day(s))`, or `... (EXPIRED 3 day(s) ago)`."""
    days = entry.expires_in_days
    if days < 0:
        return kind.compose(W("{} (EXPIRED {} day(s) ago)"), entry.expires, -days)
    return kind.compose(W("{} (in {} day(s))"), entry.expires, days)


def targets(label: Wording, found: tuple[Target, ...], kind: type[K]) -> K:
    """`reads: AWS arn:...; database billing (schemas public)`."""
    return kind.compose(W("{}: {}"), label, kind.compose(W("; ")).join(
        kind.compose(W("{} {}"), KIND[t.kind], t.name) for t in found))


def holds(entry: InventoryEntry, kind: type[K]) -> K:
    """What the identity holds and how long each credential lives."""
    creds = entry.credentials
    empty = kind.compose(W(""))
    aws = (kind.compose(W("; AWS session {} as {}"), format_duration(creds.aws_session_ttl), creds.aws_role_arn)
           if creds.aws_session_ttl else empty)
    cidrs = (kind.compose(W("; login only from {}"), kind.compose(W(", ")).join(creds.bound_cidrs))
             if creds.bound_cidrs else empty)
    return kind.compose(W("Vault token {}, renewable to {}; secret id {}, {} use(s); certificate {}{}{}"),
                        format_duration(creds.token_ttl), format_duration(creds.token_max_ttl),
                        format_duration(creds.secret_id_ttl), creds.secret_id_num_uses,
                        creds.certificate_common_name, aws, cidrs)
