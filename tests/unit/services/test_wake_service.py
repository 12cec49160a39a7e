"""Waking a job's execution when a notification comes, through the task token kept on the job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import JobState, JobsUnavailable
from antipiracy.services.track import check_and_wait
from antipiracy.services.wake import Waker


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


# ---- the Check step's own wait (services/track.check_and_wait) ------------------------------------------------


@pytest.fixture
def running(tracked_job: Callable[..., str], jobs: MemoryJobs, doverunner: FakeDoveRunner) -> Callable[..., str]:
    """A tracked job whose detection DoveRunner has running, checked once already (so the next check asks)."""

    def make(**fields: Any) -> str:
        detection_id = doverunner.add("movie.mp4", status="FD003", progress="FD311")
        return tracked_job(**{"detection_id": detection_id, "checks": 1, **fields})

    return make


@pytest.fixture
def check_step(
    jobs: MemoryJobs, doverunner: FakeDoveRunner, executions: MemoryExecutions, submitted_at: datetime
) -> Callable[..., dict[str, Any]]:
    """The Check step a minute after the job was submitted, with `config`."""

    def run(job_id: str, token: str, config: PipelineConfig) -> dict[str, Any]:
        now = submitted_at + timedelta(minutes=1)
        return check_and_wait(
            job_id, token, jobs=jobs, client=doverunner, executions=executions, config=config, now=now
        )

    return run


@pytest.fixture
def notified(config: PipelineConfig) -> PipelineConfig:
    """The settings of a stack that DoveRunner's notifications reach, polling hourly."""
    return replace(config, notifications_registered=True, poll_seconds=3600)


def test_a_check_with_notifications_keeps_its_token_to_wait_for_one(
    running: Callable[..., str],
    jobs: MemoryJobs,
    executions: MemoryExecutions,
    check_step: Callable[..., dict[str, Any]],
    notified: PipelineConfig,
) -> None:
    job_id = running()

    answer = check_step(job_id, "token-1", notified)

    assert (answer["then"], answer["wait_seconds"]) == ("waiting for a notification or the poll", 3600)
    assert jobs.require(job_id)["wake_token"] == "token-1"
    assert executions.completed == {}


def test_a_check_without_notifications_ends_its_task_to_wait_a_growing_plain_wait(
    running: Callable[..., str],
    jobs: MemoryJobs,
    executions: MemoryExecutions,
    config: PipelineConfig,
    check_step: Callable[..., dict[str, Any]],
) -> None:
    job_id = running()

    check_step(job_id, "token-1", config)

    assert executions.completed["token-1"]["wait"] is True
    assert executions.completed["token-1"]["wait_seconds"] == config.initial_wait_seconds * 2
    assert "wake_token" not in jobs.require(job_id)


def test_a_check_at_the_longest_wait_keeps_its_token_so_a_notification_still_ends_it(
    running: Callable[..., str],
    jobs: MemoryJobs,
    config: PipelineConfig,
    check_step: Callable[..., dict[str, Any]],
) -> None:
    job_id = running(checks=40)

    answer = check_step(job_id, "token-1", config)

    assert answer["wait_seconds"] == config.poll_seconds
    assert jobs.require(job_id)["wake_token"] == "token-1"


def test_a_live_detection_whose_time_box_ends_before_the_poll_gets_a_plain_wait_until_then(
    running: Callable[..., str],
    jobs: MemoryJobs,
    executions: MemoryExecutions,
    check_step: Callable[..., dict[str, Any]],
    notified: PipelineConfig,
) -> None:
    job_id = running(method="live", request={"type": "live", "max_seconds": 300})

    check_step(job_id, "token-1", notified)  # a minute in: four minutes left

    assert (executions.completed["token-1"]["wait"], executions.completed["token-1"]["wait_seconds"]) == (True, 241)
    assert "wake_token" not in jobs.require(job_id)


def test_a_time_box_that_ends_just_as_the_poll_does_is_still_a_plain_wait(
    running: Callable[..., str],
    executions: MemoryExecutions,
    check_step: Callable[..., dict[str, Any]],
    notified: PipelineConfig,
) -> None:
    # The poll's time-out comes a function's time late: a wait cut short to the poll's length stays exact.
    job_id = running(method="live", request={"type": "live", "max_seconds": 60 + 3599})

    check_step(job_id, "token-1", notified)

    assert (executions.completed["token-1"]["wait"], executions.completed["token-1"]["wait_seconds"]) == (True, 3600)


def test_a_check_that_finds_the_detection_ended_ends_its_task_with_the_result(
    tracked_job: Callable[..., str],
    doverunner: FakeDoveRunner,
    executions: MemoryExecutions,
    config: PipelineConfig,
    check_step: Callable[..., dict[str, Any]],
) -> None:
    detection_id = doverunner.add("movie.mp4", status="FD004", wm_key="0000000000000001")
    job_id = tracked_job(detection_id=detection_id, checks=1)

    check_step(job_id, "token-1", config)

    assert executions.completed["token-1"]["terminal"] is True


def test_the_first_check_of_a_detection_registered_a_moment_ago_asks_doverunner_nothing(
    tracked_job: Callable[..., str],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    check_step: Callable[..., dict[str, Any]],
) -> None:
    job_id = tracked_job(detection_id=doverunner.add("movie.mp4", status="FD001"), method="url")

    check_step(job_id, "token-1", config)

    assert doverunner.details == []
    assert jobs.require(job_id)["checks"] == 1


def test_a_check_ends_its_own_wait_at_once_when_a_notification_came_while_it_checked(
    running: Callable[..., str],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    executions: MemoryExecutions,
    check_step: Callable[..., dict[str, Any]],
    notified: PipelineConfig,
) -> None:
    job_id = running()
    detail = doverunner.detail

    def notified_meanwhile(detection_id: int, *, service: str | None = None) -> Any:
        Waker(jobs, executions).wake(job_id)  # the revoker, while DoveRunner answers the check
        return detail(detection_id, service=service)

    doverunner.detail = notified_meanwhile  # type: ignore[method-assign]

    answer = check_step(job_id, "token-1", notified)

    assert answer["then"] == "woken"
    assert executions.woken == [("token-1", job_id)]
    assert "wake_token" not in jobs.require(job_id)


def test_late_token_of_an_older_wait_never_replaces_a_newer_one(job_id: str, jobs: MemoryJobs) -> None:
    jobs.keep_wake_token(job_id, "token-3", 3)

    kept = jobs.keep_wake_token(job_id, "token-2", 2)

    assert kept is False
    assert jobs.require(job_id)["wake_token"] == "token-3"


def test_check_drops_the_token_of_the_wait_that_ended(
    job_id: str, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    jobs.keep_wake_token(job_id, "token-1", 1)

    jobs.begin_check(job_id)

    assert Waker(jobs, executions).wake(job_id) == "marked"
    assert executions.woken == []
