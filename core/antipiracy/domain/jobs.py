"""Jobs: one per S3 object version, or per request of a request file. Their states, ids and the times they record."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    RECEIVED = "RECEIVED"  # recorded, nothing sent to DoveRunner yet
    HELD = "HELD"  # not sent: submissions are paused (DoveRunner's quota or credentials); sent when they resume
    REJECTED = "REJECTED"  # refused before any DoveRunner call (reason says why)
    SUBMITTING = "SUBMITTING"  # a DoveRunner request is (or was, before a crash) under way
    SUBMITTED = "SUBMITTED"  # DoveRunner has it; tracking starts
    TRACKING = "TRACKING"  # the state machine follows it
    COMPLETED = "COMPLETED"  # the detection ended (whatever its outcome); the report is written
    CANCELED = "CANCELED"  # stopped: by an operator, at a live detection's time box, or before it was sent
    FAILED = "FAILED"  # the pipeline could not submit or follow it (reason says why)
    TIMED_OUT = "TIMED_OUT"  # no terminal status within the maximum tracking time


FINAL_STATES = frozenset(
    {JobState.REJECTED, JobState.COMPLETED, JobState.CANCELED, JobState.FAILED, JobState.TIMED_OUT}
)
UNFINISHED_STATES = tuple(state for state in JobState if state not in FINAL_STATES)


class JobExists(Exception):
    """The object version has a job already: `job` is the stored one."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__(job.get("job_id"))
        self.job = job


class StateConflict(Exception):
    """The job was not in the state a step expected: another delivery got there first."""


class JobsUnavailable(Exception):
    """The jobs table refused a write for another reason than its condition: `transient` when trying again later
    may succeed (throttling, a service error)."""

    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(f"the jobs table refused the write: {code}")
        self.code = code
        self.transient = transient


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


def dr_title(title: str, job_id: str) -> str:
    """The title sent to DoveRunner: unique per job, so the job's detection can be found by title."""
    return f"{title} #{job_id.removeprefix('job-')[:16]}"
