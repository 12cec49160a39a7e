"""The revocation ledger in DynamoDB: one item per revoke token (URL-safe), what happened to it and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from antipiracy.adapters.dynamodb import plain, query_all
from antipiracy.domain.jobs import now_iso
from antipiracy.domain.notifications import MAX_STORED_MESSAGE, StatusNotification
from antipiracy.domain.revocations import RevocationState, epoch, removals
from antipiracy.domain.waf_rules import url_safe

MAX_MESSAGES_KEPT = 10


class LedgerTable:
    """The revocation ledger table: key `token` (URL-safe), index `by-state-expiry` (state, expires_epoch), TTL on
    `ttl_epoch` (NOT_VERIFIED and REFUSED items; a BLOCKED record removes it)."""

    EXPIRY_INDEX = "by-state-expiry"

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, token: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"token": url_safe(token)}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

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
        """Sets the token's state and fields (removing `remove`, and a refusal's fields once the token is acted on:
        domain/revocations.removals), and adds the detection
        and message behind it (the message cut to MAX_STORED_MESSAGE characters)."""
        remove = removals(state, fields, remove)
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
            attrs[":msg"] = [{"at": now_iso(), "message": message[:MAX_STORED_MESSAGE]}]
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
            kept = [messages[0], *messages[-(MAX_MESSAGES_KEPT - 1) :]]
            self._table.update_item(
                Key={"token": url_safe(token)},
                UpdateExpression="SET messages = :kept",
                ExpressionAttributeValues={":kept": kept},
            )
            item["messages"] = kept
        return dict(plain(item))

    def expired(self, now: datetime) -> list[dict[str, Any]]:
        """BLOCKED tokens whose block has expired."""
        condition = Key("state").eq(RevocationState.BLOCKED.value) & Key("expires_epoch").lte(epoch(now))
        return query_all(self._table, IndexName=self.EXPIRY_INDEX, KeyConditionExpression=condition)

    def all(self) -> list[dict[str, Any]]:
        return sorted(query_all(self._table), key=lambda i: str(i.get("updated_at", "")))
