"""Revocations: what happened to a leaking session's revoke token, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RevocationState(StrEnum):
    BLOCKED = "BLOCKED"
    NOT_VERIFIED = "NOT_VERIFIED"
    REFUSED = "REFUSED"  # the notification failed a check of its evidence (site, detection, mark, status)
    CAPACITY_EXCEEDED = "CAPACITY_EXCEEDED"
    LIFTED = "LIFTED"


class NoRoom(Exception):
    """The blocker had no capacity left for the token."""


@dataclass(frozen=True)
class RevocationResult:
    action: str  # blocked, already_blocked, not_verified, refused, no_room, recorded, nothing_to_block
    token: str | None = None
    detection_id: int | None = None
    job_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# A refused or unverified token's ledger item expires: DynamoDB's TTL deletes it at this attribute's time (epoch
# seconds; the stack turns TTL on for it). Once the token is acted on (blocked, or refused for want of room) the
# refusal is over: its expiry and the check it failed go.
TTL_ATTRIBUTE = "ttl_epoch"
REFUSAL_FIELDS = (TTL_ATTRIBUTE, "refused_check")
_ACTED_ON = frozenset({RevocationState.BLOCKED, RevocationState.CAPACITY_EXCEEDED})


def removals(state: RevocationState, fields: dict[str, Any] | None, remove: tuple[str, ...]) -> tuple[str, ...]:
    """What a ledger record in `state` removes: `remove`, and a refusal's fields once the token is acted on
    (deduplicated, never an attribute the record sets)."""
    wanted = (*remove, *REFUSAL_FIELDS) if state in _ACTED_ON else remove
    return tuple(name for name in dict.fromkeys(wanted) if name not in (fields or {}))
