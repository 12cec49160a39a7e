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
