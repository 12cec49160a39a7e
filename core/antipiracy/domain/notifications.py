"""DoveRunner's status notifications, as they arrive on the revocation queue (public-samples.md).

Version 1.1: {"detection_id", "detection_status", and for FD004 "watermark_token" and "forensic_mark", for FD006 or
FD007 "error_code" and "error_message"}. Version 1.0: {"revoke_token", "site_id"}, meaning "revoke this token now".
The SQS body is the SNS envelope (its "Message" is the notification), or the notification itself with raw
message delivery. Anything else is refused with the reason, so it ends in the dead-letter queue, never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from antipiracy.domain.tokens import MAX_TOKEN_LENGTH as MAX_TOKEN_LENGTH
from antipiracy.domain.tokens import MIN_TOKEN_LENGTH as MIN_TOKEN_LENGTH
from antipiracy.domain.tokens import token_problem

MAX_TEXT_LENGTH = 2048
MAX_STORED_MESSAGE = 4096  # characters of a notification the ledger keeps
_STATUSES = frozenset({"FD004", "FD006", "FD007"})


class InvalidNotification(ValueError):
    """The message is not a DoveRunner notification this subscriber can act on; the text says why."""


@dataclass(frozen=True)
class StatusNotification:
    version: str  # "1.1" or "1.0"
    detection_id: int | None
    detection_status: str  # FD004, FD006, FD007 ("FD004" for a 1.0 message: revoke now)
    watermark_token: str | None = None
    forensic_mark: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    site_id: str | None = None

    @property
    def revokes(self) -> bool:
        """Whether the notification asks for a session to be blocked."""
        return self.detection_status == "FD004" and bool(self.watermark_token)


def parse_message(body: Any) -> StatusNotification:
    """The notification in an SQS message body (SNS envelope or raw)."""
    document = _json(body, "the message")
    if _is_envelope(document):
        document = _json(document["Message"], "the SNS notification's Message")
    if not isinstance(document, dict):
        raise InvalidNotification("the notification is not a JSON object")
    if "revoke_token" in document:
        return _version_1_0(document)
    if "detection_status" in document or "detection_id" in document:
        return _version_1_1(document)
    raise InvalidNotification(
        "neither a 1.1 notification (detection_id, detection_status) nor a 1.0 one (revoke_token, site_id)"
    )


def inner_message(body: str) -> str:
    """What is worth keeping of an SQS message body: the SNS envelope's "Message" (the notification DoveRunner
    published), or the body itself (raw message delivery, or not an envelope), cut to MAX_STORED_MESSAGE characters.
    The envelope's UnsubscribeURL, Signature and SigningCertURL are never kept."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        return body[:MAX_STORED_MESSAGE]
    if _is_envelope(document):
        inner = document["Message"]
        text = inner if isinstance(inner, str) else json.dumps(inner)
        return text[:MAX_STORED_MESSAGE]
    return body[:MAX_STORED_MESSAGE]


def _is_envelope(document: Any) -> bool:
    return isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document


def _json(value: Any, what: str) -> Any:
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise InvalidNotification(f"{what} is not text")
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidNotification(f"{what} is not JSON") from None


def _token(value: Any, name: str) -> str:
    """The token, if it is one by the grammar the WAF rules share (domain/tokens.py)."""
    problem = token_problem(value)
    if problem is not None:
        raise InvalidNotification(f"{name} {problem}")
    assert isinstance(value, str)
    return value


def _text(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidNotification(f"{name} must be a string")
    return value[:MAX_TEXT_LENGTH]


def _detection_id(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise InvalidNotification("detection_id must be a number")
    text = str(value).strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidNotification(f"detection_id must be a positive number, got {str(value)[:40]!r}")
    return int(text)


def _version_1_1(document: dict[str, Any]) -> StatusNotification:
    detection_id = _detection_id(document.get("detection_id"))
    status = document.get("detection_status")
    if not isinstance(status, str) or status not in _STATUSES:
        raise InvalidNotification(f"detection_status must be one of {sorted(_STATUSES)}, got {str(status)[:40]!r}")
    token = document.get("watermark_token")
    return StatusNotification(
        version="1.1",
        detection_id=detection_id,
        detection_status=status,
        watermark_token=_token(token, "watermark_token") if token is not None else None,
        forensic_mark=_text(document, "forensic_mark"),
        error_code=_text(document, "error_code"),
        error_message=_text(document, "error_message"),
    )


def _version_1_0(document: dict[str, Any]) -> StatusNotification:
    site_id = document.get("site_id")
    if not isinstance(site_id, str) or not site_id:
        raise InvalidNotification("site_id must be a non-empty string in a 1.0 notification")
    return StatusNotification(
        version="1.0",
        detection_id=None,
        detection_status="FD004",
        watermark_token=_token(document.get("revoke_token"), "revoke_token"),
        site_id=site_id[:64],
    )
