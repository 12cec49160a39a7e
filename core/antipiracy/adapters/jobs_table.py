"""The jobs table in DynamoDB: one item per S3 object version. Conditional writes make each step happen once."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from antipiracy.adapters.aws_errors import error_code
from antipiracy.adapters.dynamodb import dynamo, plain, query_all
from antipiracy.domain.holds import PAUSE_ITEM_ID
from antipiracy.domain.jobs import FINAL_STATES, JobExists, JobState, JobsUnavailable, StateConflict, now_iso

STATE_INDEX = "by-state"  # partition key `state`, sort key `created_at`

# Errors worth trying the whole request again for (SQS redelivers its message).
TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


class JobsTable:
    """The jobs table (key `job_id`, indexes `by-detection-id` and `by-state`): every write conditional, so each step
    happens once. One control item (domain/holds.PAUSE_ITEM_ID, no `state`: in no index) says whether submissions
    are paused."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, item: dict[str, Any]) -> dict[str, Any]:
        """Records a new job; raises JobExists with the stored one when this object version was seen before."""
        stamp = now_iso()
        record = {**item, "state": JobState.RECEIVED.value, "created_at": stamp, "updated_at": stamp}
        try:
            self._table.put_item(Item=dynamo(record), ConditionExpression="attribute_not_exists(job_id)")
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
        return plain(item) if item else None

    def find_by_detection(self, detection_id: int, index: str = "by-detection-id") -> dict[str, Any] | None:
        """The job this stack submitted for a DoveRunner detection, if any."""
        items = self._table.query(IndexName=index, KeyConditionExpression=Key("detection_id").eq(detection_id))["Items"]
        return plain(items[0]) if items else None

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
        absent: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Sets fields (and `state` when given), a None value removing its field; only from the `expect`ed states if
        any are named, only while the fields in `match` hold those values and those in `absent` are not set. (No
        NULL is ever written: a NULL detection_id, the key of the by-detection-id index, is refused by DynamoDB.)"""
        values = {name: value for name, value in {**fields, "updated_at": now_iso()}.items() if value is not None}
        removed = [name for name, value in fields.items() if value is None]
        names = {f"#f{i}": name for i, name in enumerate(values)}
        names.update({f"#r{i}": name for i, name in enumerate(removed)})
        attrs = {f":v{i}": dynamo(value) for i, value in enumerate(values.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(values))]
        if history is not None:
            names["#h"] = "history"
            attrs[":h"] = [dynamo(history)]
            attrs[":empty"] = []
            sets.append("#h = list_append(if_not_exists(#h, :empty), :h)")
        kwargs: dict[str, Any] = {
            "Key": {"job_id": job_id},
            "UpdateExpression": "SET "
            + ", ".join(sets)
            + (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed))) if removed else ""),
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
            attrs[f":m{i}"] = dynamo(value)
            conditions.append(f"#m{i} = :m{i}")
        for i, name in enumerate(absent):
            names[f"#a{i}"] = name
            conditions.append(f"attribute_not_exists(#a{i})")
        kwargs["ConditionExpression"] = " AND ".join(conditions)
        try:
            return dict(plain(self._table.update_item(**kwargs)["Attributes"]))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                wanted = [s.value for s in expect] or "the table"
                held = (f" with {match}" if match else "") + (f" without {list(absent)}" if absent else "")
                raise StateConflict(f"job {job_id} is not in {wanted}{held}") from None
            raise

    # ---- waking a waiting execution (services/wake.py) ----------------------------------------------------

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
        return dict(plain(item))

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
        is unknown or finished. Atomic, so a token is taken once. JobsUnavailable when the table refuses the write."""
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
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                return False, None
            raise JobsUnavailable(code, transient=code in TRANSIENT_ERRORS) from exc
        token = old.get("wake_token")
        return True, str(token) if token else None

    # ---- listing -------------------------------------------------------------------------------------------

    def with_state(self, state: JobState) -> list[dict[str, Any]]:
        """The jobs in `state`, oldest first."""
        return query_all(self._table, IndexName=STATE_INDEX, KeyConditionExpression=Key("state").eq(state.value))

    def scan(self) -> list[dict[str, Any]]:
        """Every job (the control item left out), in no order: for an operator's listing."""
        return [item for item in query_all(self._table) if item.get("job_id") != PAUSE_ITEM_ID]

    # ---- pausing submissions (services/holds.py) -----------------------------------------------------------

    def submission_pause(self) -> dict[str, Any] | None:
        return _pause_record(self._table.get_item(Key={"job_id": PAUSE_ITEM_ID}, ConsistentRead=True).get("Item"))

    def pause_submissions(self, record: dict[str, Any]) -> bool:
        try:
            self._table.put_item(
                Item=dynamo({**record, "job_id": PAUSE_ITEM_ID}), ConditionExpression="attribute_not_exists(job_id)"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def resume_submissions(self) -> dict[str, Any] | None:
        return _pause_record(
            self._table.delete_item(Key={"job_id": PAUSE_ITEM_ID}, ReturnValues="ALL_OLD").get("Attributes")
        )


def _pause_record(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pause as services/holds.py knows it: the control item without its key."""
    return {k: v for k, v in plain(item).items() if k != "job_id"} if item else None
