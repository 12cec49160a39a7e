"""Waking a job's execution when DoveRunner notifies about its detection, instead of at its next check.

Between two Checks the state machine waits in a task with a task token (waitForTaskToken) that times out after
the wait the Check asked for; the waiter function keeps the token on the job. A notification (the revoker)
marks the job and takes the token, then sends task success: the execution checks at once. The race between a
notification and the keeping of a token is closed on the job item:

- a Check clears the mark before it asks DoveRunner (JobStore.begin_check);
- a notification sets the mark and takes the token in one write (JobStore.request_wake);
- the waiter keeps its token only if no mark was set since the Check, else it wakes the execution itself
  (JobStore.keep_wake_token).

A token whose wait already ended (timed out, or woken twice) is not an error: the execution checks anyway.
Nothing here ever holds a notification back: when waking fails, the wait's time-out is the fallback.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws_errors import error_code
from pipeline.jobs import JobStore
from pipeline.observability import logger, metrics

# What Step Functions answers for a token whose wait is over: the execution moved on without it.
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# DynamoDB errors worth a retry of the whole notification (SQS redelivers it); any other is logged and dropped.
TRANSIENT_DYNAMODB_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def send_wake(sfn: Any, token: str, *, job_id: str) -> bool:
    """Ends a wait with task success; False (logged) when that wait was over or Step Functions refused."""
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"woken_by": "notification"}))
    except ClientError as exc:
        code = error_code(exc)
        if code in STALE_TOKEN_ERRORS:
            logger.info("the execution no longer waited on this token", extra={"job_id": job_id, "error_code": code})
        else:
            logger.warning(
                "could not wake the execution: it checks after its wait", extra={"job_id": job_id, "error_code": code}
            )
        return False
    except BotoCoreError as exc:
        logger.warning(
            "could not wake the execution: it checks after its wait",
            extra={"job_id": job_id, "error": type(exc).__name__},
        )
        return False
    metrics.add_metric(name="ExecutionsWoken", unit="Count", value=1)
    return True


class Waker:
    """What a notification does to its job's execution (the revoker's part)."""

    def __init__(self, jobs: JobStore, sfn: Any) -> None:
        self._jobs = jobs
        self._sfn = sfn

    def wake(self, job_id: str) -> str:
        """woken; not_woken (the wait was over, or Step Functions refused); marked (no execution was waiting:
        its next wait ends at once); not_tracked (unknown or finished job); failed (the job could not be marked:
        polling finds the result)."""
        try:
            marked, token = self._jobs.request_wake(job_id)
        except ClientError as exc:
            code = error_code(exc)
            if code in TRANSIENT_DYNAMODB_ERRORS:
                raise
            logger.error("could not mark the job for waking", extra={"job_id": job_id, "error_code": code})
            return "failed"
        if not marked:
            return "not_tracked"
        if token is None:
            logger.info("no execution waiting: its next wait ends at once", extra={"job_id": job_id})
            return "marked"
        return "woken" if send_wake(self._sfn, token, job_id=job_id) else "not_woken"


def wait_input(event: Any) -> tuple[str, str, int]:
    """The job id, task token and Check attempt from the wait task's payload."""
    if not isinstance(event, dict):
        raise ValueError("the wait step needs a JSON object")
    job_id, token, attempt = event.get("job_id"), event.get("task_token"), event.get("attempt")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("the wait step needs a job_id")
    if not isinstance(token, str) or not token:
        raise ValueError("the wait step needs a task_token")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError("the wait step needs the Check's attempt (a number)")
    return job_id, token, attempt


def keep_or_wake(job_id: str, token: str, attempt: int, *, jobs: JobStore, sfn: Any) -> dict[str, Any]:
    """The waiter: keeps the token for a notification to use, or wakes at once if one came since the Check."""
    if jobs.keep_wake_token(job_id, token, attempt):
        return {"waiting": True}
    # A notification came since the last Check (or, rarely, a newer wait already holds a token).
    logger.info("not waiting: a notification came since the last check", extra={"job_id": job_id})
    return {"waiting": False, "woken": send_wake(sfn, token, job_id=job_id)}
