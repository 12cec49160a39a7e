"""Waking a waiting execution: the task token the Check step keeps on the job, taken once by a notification, and the
race between the two closed on the job item (real DynamoDB API from the local AWS; Step Functions' callback API
stood in for)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_clients import unique_name
from sfn_callbacks import StepFunctionsCallbacks
from tables import create_jobs_table

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.step_functions import StepFunctionsExecutions
from antipiracy.domain.jobs import JobState
from antipiracy.services.wake import Waker, keep_or_wake


@dataclass
class Tracked:
    jobs: JobsTable
    sfn: StepFunctionsCallbacks
    job_id: str

    def wait(self, token: str, attempt: int = 1) -> dict[str, Any]:
        """What the Check step does after a check that waits: keep the token, or end its own wait at once."""
        return keep_or_wake(self.job_id, token, attempt, jobs=self.jobs, executions=StepFunctionsExecutions(self.sfn))

    def notify(self) -> str:
        """What the revoker does when a notification about the job's detection arrives."""
        return Waker(self.jobs, StepFunctionsExecutions(self.sfn)).wake(self.job_id)

    def job(self) -> dict[str, Any]:
        return self.jobs.require(self.job_id)


@pytest.fixture
def tracked(aws_resource: Callable[..., Any]) -> Tracked:
    """A job whose execution has made its first Check."""
    jobs = JobsTable(create_jobs_table(aws_resource("dynamodb"), unique_name("w") + "-jobs"))
    jobs.create({"job_id": "job-1", "bucket": "b", "key": "inbox/a.mp4"})
    jobs.update("job-1", {"state": JobState.TRACKING.value, "detection_id": 1001})
    jobs.begin_check("job-1")
    return Tracked(jobs, StepFunctionsCallbacks(), "job-1")


def test_the_check_keeps_its_token_when_no_notification_came_since_it_began(tracked: Tracked) -> None:
    answer = tracked.wait("token-1")

    assert answer == {"waiting": True}
    assert tracked.job()["wake_token"] == "token-1"
    assert tracked.sfn.woken == []


def test_notification_takes_the_kept_token_and_wakes_the_execution(tracked: Tracked) -> None:
    tracked.wait("token-1")

    outcome = tracked.notify()

    assert outcome == "woken"
    assert tracked.sfn.woken == ["token-1"]
    assert "wake_token" not in tracked.job()


def test_a_kept_token_is_taken_by_one_notification_only(tracked: Tracked) -> None:
    tracked.wait("token-1")

    outcomes = [tracked.notify(), tracked.notify()]

    assert outcomes == ["woken", "marked"]
    assert tracked.sfn.woken == ["token-1"]


def test_notification_before_the_token_is_kept_makes_the_check_end_its_wait_at_once(tracked: Tracked) -> None:
    # given a notification between the Check and the wait: nothing to wake yet
    assert tracked.notify() == "marked"

    answer = tracked.wait("token-1")

    assert answer == {"waiting": False, "woken": True}
    assert tracked.sfn.woken == ["token-1"]
    assert "wake_token" not in tracked.job()


def test_check_answers_the_notification_so_the_next_wait_waits(tracked: Tracked) -> None:
    tracked.notify()

    tracked.jobs.begin_check(tracked.job_id)
    answer = tracked.wait("token-2", attempt=2)

    assert answer == {"waiting": True}
    assert tracked.sfn.woken == []


def test_check_drops_the_token_of_the_wait_that_ended(tracked: Tracked) -> None:
    # given a wait that timed out: its token is stale once the Check runs
    tracked.wait("token-1")

    tracked.jobs.begin_check(tracked.job_id)
    outcome = tracked.notify()

    assert outcome == "marked"
    assert tracked.sfn.woken == []


def test_late_token_of_an_older_wait_never_replaces_a_newer_one(tracked: Tracked) -> None:
    tracked.wait("token-2", attempt=2)

    late = tracked.wait("token-1", attempt=1)
    tracked.notify()

    assert late["waiting"] is False
    # the late one was sent at once (a no-op for a wait that is over); the notification woke the current one
    assert tracked.sfn.woken == ["token-1", "token-2"]


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_token_of_a_wait_that_is_over_is_not_an_error(tracked: Tracked, code: str) -> None:
    tracked.wait("token-1")
    tracked.sfn.error = code

    outcome = tracked.notify()

    assert outcome == "not_woken"
    assert "wake_token" not in tracked.job()


def test_step_functions_refusing_the_wake_does_not_raise(tracked: Tracked) -> None:
    tracked.wait("token-1")
    tracked.sfn.error = "AccessDeniedException"

    assert tracked.notify() == "not_woken"


def test_notification_for_a_finished_job_marks_nothing(tracked: Tracked) -> None:
    tracked.jobs.update(tracked.job_id, {"state": JobState.COMPLETED.value})

    outcome = tracked.notify()

    assert outcome == "not_tracked"
    assert "wake_requested_at" not in tracked.job()


def test_notification_for_an_unknown_job_wakes_nothing_and_creates_nothing(tracked: Tracked) -> None:
    outcome = Waker(tracked.jobs, StepFunctionsExecutions(tracked.sfn)).wake("job-unknown")

    assert outcome == "not_tracked"
    assert tracked.jobs.get("job-unknown") is None
