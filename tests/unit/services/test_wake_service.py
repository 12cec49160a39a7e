"""Waking a job's execution when a notification comes, through the task token kept on the job."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fakes import MemoryExecutions, MemoryJobs

from antipiracy.domain.jobs import JobState, JobsUnavailable
from antipiracy.services.wake import Waker, keep_or_wake


class RefusingJobs(MemoryJobs):
    """A jobs table that refuses the marking write, for a reason that may pass (`transient`) or not."""

    def __init__(self, *, transient: bool) -> None:
        super().__init__()
        self.transient = transient

    def request_wake(self, job_id: str) -> tuple[bool, str | None]:
        raise JobsUnavailable("Refused", transient=self.transient)


@pytest.fixture
def job_id(tracked_job: Callable[..., str], jobs: MemoryJobs) -> str:
    """A tracked job whose execution has made a Check."""
    job_id = tracked_job(detection_id=1001)
    jobs.begin_check(job_id)
    return job_id


def test_notification_takes_the_kept_token_and_wakes_the_execution(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    jobs.keep_wake_token(job_id, "token-1", 1)

    outcome = Waker(jobs, executions).wake(job_id)

    assert outcome == "woken"
    assert executions.woken == [("token-1", job_id)]
    assert "wake_token" not in jobs.require(job_id)


def test_a_kept_token_is_taken_by_one_notification_only(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    jobs.keep_wake_token(job_id, "token-1", 1)
    waker = Waker(jobs, executions)

    outcomes = [waker.wake(job_id), waker.wake(job_id)]

    assert outcomes == ["woken", "marked"]
    assert executions.woken == [("token-1", job_id)]


def test_notification_with_no_execution_waiting_marks_the_job(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    outcome = Waker(jobs, executions).wake(job_id)

    assert outcome == "marked"
    assert jobs.require(job_id)["wake_requested_at"]
    assert executions.woken == []


def test_token_of_a_wait_that_is_over_is_not_woken_and_not_an_error(job_id: str, jobs: MemoryJobs) -> None:
    jobs.keep_wake_token(job_id, "stale-token", 1)

    outcome = Waker(jobs, MemoryExecutions(wakes_succeed=False)).wake(job_id)

    assert outcome == "not_woken"


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.FAILED, JobState.TIMED_OUT, JobState.REJECTED])
def test_notification_for_a_finished_job_marks_nothing(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions, state: JobState
) -> None:
    jobs.keep_wake_token(job_id, "token-1", 1)
    jobs.update(job_id, {"state": state.value})

    outcome = Waker(jobs, executions).wake(job_id)

    assert outcome == "not_tracked"
    assert "wake_requested_at" not in jobs.require(job_id)
    assert executions.woken == []


def test_notification_for_an_unknown_job_creates_nothing(jobs: MemoryJobs, executions: MemoryExecutions) -> None:
    outcome = Waker(jobs, executions).wake("job-unknown")

    assert outcome == "not_tracked"
    assert jobs.get("job-unknown") is None


def test_throttled_marking_is_raised_so_the_notification_is_retried(executions: MemoryExecutions) -> None:
    waker = Waker(RefusingJobs(transient=True), executions)

    with pytest.raises(JobsUnavailable):
        waker.wake("job-1")


def test_marking_that_cannot_succeed_is_reported_failed_not_raised(executions: MemoryExecutions) -> None:
    outcome = Waker(RefusingJobs(transient=False), executions).wake("job-1")

    assert outcome == "failed"


# ---- the waiter -------------------------------------------------------------------------------------------------


def test_waiter_keeps_its_token_when_no_notification_came_since_the_check(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    answer = keep_or_wake(job_id, "token-1", 1, jobs=jobs, executions=executions)

    job = jobs.require(job_id)
    assert answer == {"waiting": True}
    assert (job["wake_token"], job["wake_attempt"]) == ("token-1", 1)
    assert executions.woken == []


def test_waiter_wakes_at_once_when_a_notification_came_since_the_check(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    Waker(jobs, executions).wake(job_id)

    answer = keep_or_wake(job_id, "token-1", 1, jobs=jobs, executions=executions)

    assert answer == {"waiting": False, "woken": True}
    assert executions.woken == [("token-1", job_id)]


def test_late_token_of_an_older_wait_never_replaces_a_newer_one(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    keep_or_wake(job_id, "token-3", 3, jobs=jobs, executions=executions)

    answer = keep_or_wake(job_id, "token-2", 2, jobs=jobs, executions=executions)

    assert answer["waiting"] is False
    assert jobs.require(job_id)["wake_token"] == "token-3"


def test_check_drops_the_token_of_the_wait_that_ended(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    keep_or_wake(job_id, "token-1", 1, jobs=jobs, executions=executions)

    jobs.begin_check(job_id)

    assert Waker(jobs, executions).wake(job_id) == "marked"
    assert executions.woken == []
