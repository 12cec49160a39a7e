"""The functions' events parsed into typed values; anything malformed is a ValueError naming what is wrong."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from antipiracy.domain.requests import RESUBMIT_MESSAGE, RETRY_MESSAGE, ResubmitRequest, RetryRequest, S3ObjectRef


def requests_from_message(body: Any) -> list[S3ObjectRef | ResubmitRequest | RetryRequest]:
    """What an ingest-queue message asks for: the objects of an S3 event notification, tracking's request to
    upload a job's file again, or a request to send a held job again. Anything else is an error."""
    if isinstance(body, dict) and body.get("type") == RETRY_MESSAGE:
        job_id, by = body.get("job_id"), body.get("requested_by")
        if not isinstance(job_id, str) or not job_id or not isinstance(by, str):
            raise ValueError("a retry request needs a job_id and who requested it (requested_by)")
        return [RetryRequest(job_id, by)]
    if isinstance(body, dict) and body.get("type") == RESUBMIT_MESSAGE:
        job_id, uploads = body.get("job_id"), body.get("uploads")
        if not isinstance(job_id, str) or not job_id or not isinstance(uploads, int) or isinstance(uploads, bool):
            raise ValueError("a resubmit request needs a job_id and the number of uploads it was made after")
        return [ResubmitRequest(job_id, uploads)]
    return list(refs_from_message(body))


def refs_from_message(body: Any) -> list[S3ObjectRef]:
    """The objects an S3 event notification names; an S3 test event names none. Anything else is an error."""
    if not isinstance(body, dict):
        raise ValueError("the message is not a JSON object")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list) or not records:
        raise ValueError("the message is not an S3 event notification (no Records)")
    refs = []
    for record in S3Event(body).records:
        if not record.event_name.startswith("ObjectCreated:"):
            raise ValueError(f"unexpected S3 event {record.event_name!r}")
        obj = record.s3.get_object
        refs.append(
            S3ObjectRef(
                bucket=record.s3.bucket.name,
                key=unquote_plus(obj.key),  # S3 events carry the key URL-encoded ('+' for a space)
                version_id=obj.version_id,
                etag=obj.etag,
                # Real S3 always sends it for a PUT; it matters only for buckets without versioning.
                sequencer=str(obj.get("sequencer", "")),
            )
        )
    return refs


def step_input(event: Any, step: str) -> tuple[str, dict[str, Any]]:
    """The job id and the previous Check's state from a state machine step's input."""
    job_id = event.get("job_id") if isinstance(event, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise ValueError(f"the {step} step needs a job_id")
    check = event.get("check")
    return job_id, check if isinstance(check, dict) else {}


def check_input(event: Any) -> tuple[str, str]:
    """The job id and task token from the Check task's payload."""
    if not isinstance(event, dict):
        raise ValueError("the Check step needs a JSON object")
    job_id, token = event.get("job_id"), event.get("task_token")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("the Check step needs a job_id")
    if not isinstance(token, str) or not token:
        raise ValueError("the Check step needs a task_token")
    return job_id, token
