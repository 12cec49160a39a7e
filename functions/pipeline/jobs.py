"""Jobs: one per S3 object version, in DynamoDB. Conditional writes make each step happen once."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError


class JobState(StrEnum):
    RECEIVED = "RECEIVED"  # recorded, nothing sent to DoveRunner yet
    REJECTED = "REJECTED"  # refused before any DoveRunner call (reason says why)
    SUBMITTING = "SUBMITTING"  # a DoveRunner request is (or was, before a crash) under way
    SUBMITTED = "SUBMITTED"  # DoveRunner has it; tracking starts
    TRACKING = "TRACKING"  # the state machine follows it
    COMPLETED = "COMPLETED"  # the detection ended (whatever its outcome); the report is written
    FAILED = "FAILED"  # the pipeline could not submit or follow it (reason says why)
    TIMED_OUT = "TIMED_OUT"  # no terminal status within the maximum tracking time


FINAL_STATES = frozenset({JobState.REJECTED, JobState.COMPLETED, JobState.FAILED, JobState.TIMED_OUT})


def now_iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_since(stamp: str, now: datetime | None = None) -> float:
    """Seconds from a `now_iso()` stamp to `now` (default: the current time)."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - moment).total_seconds()


def uploads_of(job: dict[str, Any]) -> int:
    """How many times the job's file was uploaded to DoveRunner (0 for a URL detection or before the first)."""
    return int(job.get("uploads") or 0)


def job_id_for(bucket: str, key: str, version: str) -> str:
    """Stable id of one object version; also the Step Functions execution name (<= 80 chars, [A-Za-z0-9-])."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()
    return f"job-{digest[:40]}"


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to int/float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    return value


class JobExists(Exception):
    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(job.get("job_id"))
        self.job = job


class StateConflict(Exception):
    """The job was not in the state a step expected: another delivery got there first."""


class JobStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, item: dict[str, Any]) -> dict[str, Any]:
        """Records a new job; raises JobExists with the stored one when this object version was seen before."""
        stamp = now_iso()
        record = {**item, "state": JobState.RECEIVED.value, "created_at": stamp, "updated_at": stamp}
        try:
            self._table.put_item(Item=_dynamo(record), ConditionExpression="attribute_not_exists(job_id)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.get(item["job_id"])
            if existing is None:  # pragma: no cover - deleted in between
                raise
            raise JobExists(existing) from None
        return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def find_by_detection(self, detection_id: int, index: str = "by-detection-id") -> dict[str, Any] | None:
        """The job this stack submitted for a DoveRunner detection, if any."""
        from boto3.dynamodb.conditions import Key

        items = self._table.query(IndexName=index, KeyConditionExpression=Key("detection_id").eq(detection_id))["Items"]
        return _plain(items[0]) if items else None

    def require(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job

    def update(
        self,
        job_id: str,
        fields: dict[str, Any],
        *,
        expect: tuple[JobState, ...] = (),
        history: dict[str, Any] | None = None,
        match: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Sets fields (and `state` when given); only from the `expect`ed states if any are named, and only while
        the fields in `match` hold those values."""
        values = {**fields, "updated_at": now_iso()}
        names = {f"#f{i}": name for i, name in enumerate(values)}
        attrs = {f":v{i}": _dynamo(value) for i, value in enumerate(values.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(values))]
        if history is not None:
            names["#h"] = "history"
            attrs[":h"] = [_dynamo(history)]
            attrs[":empty"] = []
            sets.append("#h = list_append(if_not_exists(#h, :empty), :h)")
        kwargs: dict[str, Any] = {
            "Key": {"job_id": job_id},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": attrs,
            "ReturnValues": "ALL_NEW",
        }
        conditions = ["attribute_exists(job_id)"]
        if expect:
            names["#state"] = "state"
            for i, state in enumerate(expect):
                attrs[f":s{i}"] = state.value
            conditions.append("#state IN (" + ", ".join(f":s{i}" for i in range(len(expect))) + ")")
        for i, (name, value) in enumerate((match or {}).items()):
            names[f"#m{i}"] = name
            attrs[f":m{i}"] = _dynamo(value)
            conditions.append(f"#m{i} = :m{i}")
        kwargs["ConditionExpression"] = " AND ".join(conditions)
        try:
            return dict(_plain(self._table.update_item(**kwargs)["Attributes"]))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                wanted = [s.value for s in expect] or "the table"
                raise StateConflict(f"job {job_id} is not in {wanted}" + (f" with {match}" if match else "")) from None
            raise

    # ---- waking a waiting execution (pipeline/waking.py) ----------------------------------------------------

    def begin_check(self, job_id: str) -> dict[str, Any]:
        """The job, as a Check starts: the notification that asked for a wake is being answered now, and a token
        kept by the previous wait is stale (that wait is over)."""
        try:
            item = self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="REMOVE wake_requested_at, wake_token",
                ConditionExpression="attribute_exists(job_id)",
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise KeyError(f"no job {job_id}") from None
            raise
        return dict(_plain(item))

    def keep_wake_token(self, job_id: str, token: str, attempt: int) -> bool:
        """Keeps a waiting execution's task token on its job, unless a notification came since the last Check
        (False: the caller wakes the execution at once). One conditional write, so a notification arriving
        meanwhile either sees the token or leaves its mark for this check; an older wait's late token never
        replaces a newer one."""
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET wake_token = :token, wake_attempt = :attempt",
                ConditionExpression=(
                    "attribute_exists(job_id) AND attribute_not_exists(wake_requested_at) "
                    "AND (attribute_not_exists(wake_attempt) OR wake_attempt <= :attempt)"
                ),
                ExpressionAttributeValues={":token": token, ":attempt": attempt},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def request_wake(self, job_id: str) -> tuple[bool, str | None]:
        """Marks that a notification came for an unfinished job and takes the task token its waiting execution
        kept: (marked, token). No token: no execution is waiting, its next wait sees the mark. Not marked: the job
        is unknown or finished. Atomic, so a token is taken once."""
        finals = sorted(state.value for state in FINAL_STATES)
        values: dict[str, Any] = {f":final{i}": state for i, state in enumerate(finals)}
        values[":now"] = now_iso()
        try:
            old = self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET wake_requested_at = :now REMOVE wake_token",
                ConditionExpression="attribute_exists(job_id) AND NOT (#state IN ("
                + ", ".join(f":final{i}" for i in range(len(finals)))
                + "))",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False, None
            raise
        token = old.get("wake_token")
        return True, str(token) if token else None


def step_input(event: Any, step: str) -> tuple[str, dict[str, Any]]:
    """The job id and the previous Check's state from a state machine step's input."""
    job_id = event.get("job_id") if isinstance(event, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise ValueError(f"the {step} step needs a job_id")
    check = event.get("check")
    return job_id, check if isinstance(check, dict) else {}
