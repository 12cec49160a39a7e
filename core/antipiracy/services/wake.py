"""Waking a job's execution when DoveRunner notifies about its detection, instead of at its next check.

The Check step is a task with a task token (waitForTaskToken) that times out after the poll interval; after its
check the tracker keeps the token on the job (services/track.check_and_wait). A notification (the revoker)
marks the job and takes the token, then sends task success: the execution checks at once. The race between a
notification and the keeping of a token is closed on the job item:

- a Check clears the mark before it asks DoveRunner (JobsTable.begin_check);
- a notification sets the mark and takes the token in one write (JobsTable.request_wake);
- the Check keeps its token only if no mark was set since it began, else it ends its own wait at once
  (JobsTable.keep_wake_token).

A token whose wait already ended (timed out, or woken twice) is not an error: the execution checks anyway.
Nothing here ever holds a notification back: when waking fails, the wait's time-out is the fallback.
"""

from __future__ import annotations

from typing import Any

from antipiracy.domain.jobs import JobsUnavailable
from antipiracy.observability import logger
from antipiracy.ports import Executions, Jobs


class Waker:
    """What a notification does to its job's execution (the revoker's part)."""

    def __init__(self, jobs: Jobs, executions: Executions) -> None:
        self._jobs = jobs
        self._executions = executions

    def wake(self, job_id: str) -> str:
        """woken; not_woken (the wait was over, or Step Functions refused); marked (no execution was waiting:
        its next wait ends at once); not_tracked (unknown or finished job); failed (the job could not be marked:
        polling finds the result)."""
        try:
            marked, token = self._jobs.request_wake(job_id)
        except JobsUnavailable as exc:
            if exc.transient:
                raise  # the notification comes back and tries again
            logger.error("could not mark the job for waking", extra={"job_id": job_id, "error_code": exc.code})
            return "failed"
        if not marked:
            return "not_tracked"
        if token is None:
            logger.info("no execution waiting: its next wait ends at once", extra={"job_id": job_id})
            return "marked"
        return "woken" if self._executions.wake(token, job_id=job_id) else "not_woken"


def keep_or_wake(job_id: str, token: str, attempt: int, *, jobs: Jobs, executions: Executions) -> dict[str, Any]:
    """The Check step after a check that waits: keeps the token for a notification to use, or ends its own wait at
    once if one came since the check began."""
    if jobs.keep_wake_token(job_id, token, attempt):
        return {"waiting": True}
    # A notification came since the check began (or, rarely, a newer wait already holds a token).
    logger.info("not waiting: a notification came since the check began", extra={"job_id": job_id})
    return {"waiting": False, "woken": executions.wake(token, job_id=job_id)}
