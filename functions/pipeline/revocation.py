"""Acting on DoveRunner's notifications: verify the leaking session's token, block it at the CDN, keep a ledger.

The ledger (DynamoDB, one item per token in URL-safe form) says for every token what happened and why:
BLOCKED (with when it expires), NOT_VERIFIED (DoveRunner did not confirm the token: nothing blocked),
CAPACITY_EXCEEDED (the web ACL had no room: nothing blocked, an alarm fires), LIFTED (expired or unblocked).
Blocking is idempotent: the same token from a repeated message or from a second detection is blocked once, and
the ledger item gathers every detection that named it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key

from doverunner import DoveRunnerClient
from pipeline.jobs import now_iso
from pipeline.notifications import StatusNotification
from pipeline.observability import logger, metrics
from pipeline.waf import url_safe

MAX_MESSAGES_KEPT = 10


class RevocationState(StrEnum):
    BLOCKED = "BLOCKED"
    NOT_VERIFIED = "NOT_VERIFIED"
    CAPACITY_EXCEEDED = "CAPACITY_EXCEEDED"
    LIFTED = "LIFTED"


class NoRoom(Exception):
    """The blocker had no capacity left for the token."""


class Blocker(Protocol):
    def block(self, tokens: list[str]) -> object: ...

    def unblock(self, tokens: list[str]) -> object: ...


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class Ledger:
    """The revocation ledger table: key `token` (URL-safe), index `by-state-expiry` (state, expires_epoch)."""

    EXPIRY_INDEX = "by-state-expiry"

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, token: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"token": url_safe(token)}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def record(
        self,
        token: str,
        state: RevocationState,
        *,
        note: StatusNotification | None = None,
        message: str | None = None,
        job_id: str | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Sets the token's state and fields (removing `remove`), and adds the detection and message behind it."""
        values: dict[str, Any] = {
            "state": state.value,
            "original_token": token,
            "updated_at": now_iso(),
            **(fields or {}),
        }
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attrs: dict[str, Any] = {f":v{i}": value for i, value in enumerate(values.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(values))]
        adds = []
        if note is not None and note.detection_id is not None:
            names["#d"] = "detection_ids"
            attrs[":d"] = {note.detection_id}
            adds.append("#d :d")
        if note is not None and note.forensic_mark:
            names["#m"] = "forensic_mark"
            attrs[":m"] = note.forensic_mark
            sets.append("#m = :m")
        if job_id:
            names["#j"] = "job_ids"
            attrs[":j"] = {job_id}
            adds.append("#j :j")
        if message is not None:
            names["#msgs"] = "messages"
            attrs[":msg"] = [{"at": now_iso(), "message": message[:4096]}]
            attrs[":none"] = []
            sets.append("#msgs = list_append(if_not_exists(#msgs, :none), :msg)")
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        if remove:
            names.update({f"#r{i}": name for i, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        item = self._table.update_item(
            Key={"token": url_safe(token)},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attrs,
            ReturnValues="ALL_NEW",
        )["Attributes"]
        messages = item.get("messages") or []
        if len(messages) > MAX_MESSAGES_KEPT:
            # Keep the first (why it was blocked) and the latest ones.
            self._table.update_item(
                Key={"token": url_safe(token)},
                UpdateExpression="SET messages = :kept",
                ExpressionAttributeValues={":kept": [messages[0], *messages[-(MAX_MESSAGES_KEPT - 1) :]]},
            )
        return dict(_plain(item))

    def expired(self, now: datetime) -> list[dict[str, Any]]:
        """BLOCKED tokens whose block has expired."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "IndexName": self.EXPIRY_INDEX,
            "KeyConditionExpression": Key("state").eq(RevocationState.BLOCKED.value)
            & Key("expires_epoch").lte(_epoch(now)),
        }
        while True:
            page = self._table.query(**kwargs)
            items += [_plain(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            items += [_plain(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: str(i.get("updated_at", "")))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class RevocationResult:
    action: str  # blocked, already_blocked, not_verified, no_room, recorded, nothing_to_block
    token: str | None = None
    detection_id: int | None = None
    job_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


class Revoker:
    def __init__(
        self,
        *,
        ledger: Ledger,
        client_factory: Callable[[], DoveRunnerClient],
        blocker: Blocker,
        find_job: Callable[[int], dict[str, Any] | None],
        update_job: Callable[[str, dict[str, Any]], object],
        block_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rewrite_report: Callable[[dict[str, Any]], object] | None = None,
        wake_job: Callable[[str], object] | None = None,
    ) -> None:
        self._ledger = ledger
        self._client_factory = client_factory
        self._blocker = blocker
        self._find_job = find_job
        self._update_job = update_job
        self._block_seconds = block_seconds
        self._clock = clock
        self._rewrite_report = rewrite_report
        self._wake_job = wake_job

    def handle(self, note: StatusNotification, message: str) -> RevocationResult:
        result = self._handle(note, message)
        if result.job_id and self._wake_job is not None:
            # After the record, so that the Check it brings forward reports the revocation too.
            self._wake_job(result.job_id)
        return result

    def _handle(self, note: StatusNotification, message: str) -> RevocationResult:
        job = self._find_job(note.detection_id) if note.detection_id is not None else None
        job_id = job["job_id"] if job else None
        if note.detection_status in ("FD006", "FD007"):
            if job_id:
                self._update_job(
                    job_id,
                    {
                        "notified_status": note.detection_status,
                        "notified_error": _error(note),
                        "notified_at": now_iso(),
                    },
                )
            return RevocationResult(
                "recorded", detection_id=note.detection_id, job_id=job_id, detail="no session to block"
            )
        if not note.revokes or note.watermark_token is None:
            return RevocationResult("nothing_to_block", detection_id=note.detection_id, job_id=job_id)
        token = note.watermark_token
        existing = self._ledger.get(token)
        if existing and existing.get("state") == RevocationState.BLOCKED.value:
            self._ledger.record(token, RevocationState.BLOCKED, note=note, message=message, job_id=job_id)
            self._note_on_job(job_id, token, RevocationState.BLOCKED)
            metrics.add_metric(name="RevocationsRepeated", unit="Count", value=1)
            return RevocationResult("already_blocked", url_safe(token), note.detection_id, job_id)
        verification = self._client_factory().verify_token(token)
        verified_at = now_iso()
        if not verification.is_valid:
            self._ledger.record(
                token,
                RevocationState.NOT_VERIFIED,
                note=note,
                message=message,
                job_id=job_id,
                fields={
                    "verified_at": verified_at,
                    "reason": "DoveRunner's token verification answered is_valid=false",
                },
            )
            self._note_on_job(job_id, token, RevocationState.NOT_VERIFIED)
            metrics.add_metric(name="RevocationsNotVerified", unit="Count", value=1)
            logger.warning("revoke token not verified: nothing blocked", extra={"detection_id": note.detection_id})
            return RevocationResult("not_verified", url_safe(token), note.detection_id, job_id)
        try:
            self._blocker.block([token])
        except NoRoom as exc:
            self._ledger.record(
                token,
                RevocationState.CAPACITY_EXCEEDED,
                note=note,
                message=message,
                job_id=job_id,
                fields={"verified_at": verified_at, "reason": str(exc)},
            )
            self._note_on_job(job_id, token, RevocationState.CAPACITY_EXCEEDED)
            metrics.add_metric(name="RevocationsRefusedForCapacity", unit="Count", value=1)
            logger.error("no WAF capacity left: token not blocked", extra={"reason": str(exc)})
            return RevocationResult("no_room", url_safe(token), note.detection_id, job_id, str(exc))
        fields, remove = self._expiry()
        fields.update(verified_at=verified_at, blocked_at=now_iso(), reason="")
        self._ledger.record(
            token, RevocationState.BLOCKED, note=note, message=message, job_id=job_id, fields=fields, remove=remove
        )
        self._note_on_job(job_id, token, RevocationState.BLOCKED)
        metrics.add_metric(name="SessionsBlocked", unit="Count", value=1)
        logger.info("session blocked", extra={"detection_id": note.detection_id, "job_id": job_id})
        return RevocationResult("blocked", url_safe(token), note.detection_id, job_id)

    def _note_on_job(self, job_id: str | None, token: str, state: RevocationState) -> None:
        if not job_id:
            return
        revocation = {"token": url_safe(token), "state": state.value, "at": now_iso()}
        job = self._update_job(job_id, {"revocation": revocation})
        # A report written before the notification arrived gets the revocation too.
        if self._rewrite_report is not None and isinstance(job, dict) and job.get("report_key"):
            self._rewrite_report(job)

    def lift_expired(self) -> list[str]:
        """Lifts every block whose time is up; the tokens lifted."""
        expired = self._ledger.expired(self._clock())
        tokens = [str(item["original_token"]) for item in expired]
        if not tokens:
            return []
        self._blocker.unblock(tokens)
        for token in tokens:
            self._ledger.record(
                token, RevocationState.LIFTED, fields={"lifted_at": now_iso(), "reason": "block expired"}
            )
        metrics.add_metric(name="BlocksLifted", unit="Count", value=len(tokens))
        return [url_safe(t) for t in tokens]

    def block_manually(self, token: str, reason: str) -> RevocationResult:
        """An operator's block: no verification (the operator vouches for it)."""
        self._blocker.block([token])
        fields, remove = self._expiry()
        fields.update(blocked_at=now_iso(), reason=reason or "blocked by an operator")
        self._ledger.record(token, RevocationState.BLOCKED, fields=fields, remove=remove)
        return RevocationResult("blocked", url_safe(token))

    def _expiry(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """When a block made now expires; a block that never expires drops any earlier expiry."""
        if self._block_seconds <= 0:
            return {}, ("expires_at", "expires_epoch")
        expires = self._clock() + timedelta(seconds=self._block_seconds)
        return {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "expires_epoch": _epoch(expires)}, ()

    def unblock(self, tokens: Iterable[str], reason: str = "unblocked by an operator") -> list[str]:
        listed = list(tokens)
        self._blocker.unblock(listed)
        for token in listed:
            self._ledger.record(token, RevocationState.LIFTED, fields={"lifted_at": now_iso(), "reason": reason})
        return [url_safe(t) for t in listed]


def _error(note: StatusNotification) -> dict[str, Any]:
    from doverunner import describe_error

    info = describe_error(note.error_code or "D000")
    return {
        "error_code": note.error_code,
        "error_message": note.error_message,
        "description": info.description,
        "solution": info.solution,
    }


def raw(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body)
