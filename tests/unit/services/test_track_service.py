"""One Check of a tracked job: its detection found and read, the status recorded, and when to look again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryJobs

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import JobState, now_iso
from antipiracy.services.track import MAX_UPLOADS, JobEnded, check

BOUND = 1800  # the fixture's find_upload_seconds


@pytest.fixture
def check_at(
    jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig, submitted_at: datetime
) -> Callable[..., dict[str, Any]]:
    """A Check of a job `seconds` after it was submitted (previous: the last Check's state)."""

    def run(
        job_id: str, seconds: float = 60, previous: dict[str, Any] | None = None, **config_changes: Any
    ) -> dict[str, Any]:
        moment = submitted_at + timedelta(seconds=seconds)
        settings = replace(config, **config_changes)
        return check(job_id, previous or {}, jobs=jobs, client=doverunner, config=settings, now=moment)

    return run


# ---- a detection being followed ---------------------------------------------------------------------------------


def test_check_records_the_status_and_what_it_means(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    detection_id = doverunner.add("movie", status="FD003", progress="FD311")
    job_id = tracked_job(detection_id=detection_id)

    state = check_at(job_id)

    job = jobs.require(job_id)
    assert (state["terminal"], state["timed_out"], state["detect_status"]) == (False, False, "FD003")
    assert (job["detect_status"], job["progress_status"], job["checks"]) == ("FD003", "FD311", 1)
    assert (job["status_description"], job["progress_description"]) == ("Detecting", "Auto-detection started")


def test_next_wait_grows_with_each_check(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], doverunner: FakeDoveRunner
) -> None:
    job_id = tracked_job(detection_id=doverunner.add("movie", status="FD002"))

    state = check_at(job_id, previous={"attempt": 2})

    assert (state["attempt"], state["wait_seconds"]) == (3, 120)


def test_history_grows_only_when_the_status_changes(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    detection_id = doverunner.add("movie", status="FD002", progress="FD210")
    job_id = tracked_job(detection_id=detection_id)
    check_at(job_id)
    check_at(job_id)

    doverunner.set_status(detection_id, "FD003", "FD311")
    check_at(job_id)

    history = jobs.require(job_id)["history"]
    assert [(h["detect_status"], h["progress_status"]) for h in history] == [("FD002", "FD210"), ("FD003", "FD311")]


def test_completed_detection_with_a_mark_is_terminal_and_records_it(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    detection_id = doverunner.add("movie", status="FD004", progress="FD400", wm_key="0000000000000001", wm_data="x")
    job_id = tracked_job(detection_id=detection_id)

    state = check_at(job_id)

    job = jobs.require(job_id)
    assert (state["terminal"], state["detect_status"]) == (True, "FD004")
    assert (job["watermark_found"], job["wm_key"], job["outcome"]) == (True, "0000000000000001", "success")


def test_failed_detection_records_the_d_code_with_its_explanation(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    detection_id = doverunner.add("movie", status="FD006", error_code="D002", error_message="too short")
    job_id = tracked_job(detection_id=detection_id)

    state = check_at(job_id)

    error = jobs.require(job_id)["error"]
    assert state["terminal"] is True
    assert (error["error_code"], error["error_message"]) == ("D002", "too short")
    assert "5 minutes" in error["solution"]


def test_check_answers_the_notification_that_asked_for_it(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    job_id = tracked_job(detection_id=doverunner.add("movie"))
    jobs.request_wake(job_id)

    check_at(job_id)

    assert "wake_requested_at" not in jobs.require(job_id)


def test_job_that_ended_outside_tracking_ends_the_execution(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], doverunner: FakeDoveRunner
) -> None:
    job_id = tracked_job(state=JobState.FAILED.value, reason="DoveRunner refused the request: A4019")

    with pytest.raises(JobEnded, match="FAILED while tracked: DoveRunner refused the request: A4019"):
        check_at(job_id)

    assert doverunner.details == []


def test_tracking_times_out_after_the_maximum_time_without_asking_doverunner(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], doverunner: FakeDoveRunner
) -> None:
    job_id = tracked_job(detection_id=doverunner.add("movie"))

    state = check_at(job_id, seconds=3601, max_tracking_seconds=3600)

    assert (state["timed_out"], state["reason"]) == (True, "no terminal status after 3600s of tracking")
    assert doverunner.details == []


def test_tracking_goes_on_up_to_the_maximum_time(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], doverunner: FakeDoveRunner
) -> None:
    job_id = tracked_job(detection_id=doverunner.add("movie"))

    state = check_at(job_id, seconds=3600, max_tracking_seconds=3600)

    assert state["timed_out"] is False


# ---- an upload's detection, found by title ----------------------------------------------------------------------


def test_upload_detection_is_found_by_its_title_and_recorded(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    job_id = tracked_job()
    detection_id = doverunner.add(jobs.require(job_id)["dr_title"], status="FD001")

    state = check_at(job_id)

    assert state["detection_id"] == detection_id
    assert jobs.require(job_id)["detection_id"] == detection_id


def test_a_detection_whose_title_only_contains_the_job_title_is_not_taken(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    job_id = tracked_job()
    doverunner.add(jobs.require(job_id)["dr_title"] + " (copy)")

    state = check_at(job_id)

    assert state["detection_id"] is None
    assert "detection_id" not in jobs.require(job_id)


def test_upload_not_listed_yet_is_looked_for_again_with_the_check_counted(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(upload_confirmed=True)

    state = check_at(job_id, seconds=BOUND - 1)

    assert (state["terminal"], state["timed_out"], state["resubmit"], state["wait_seconds"]) == (
        False,
        False,
        False,
        30,
    )
    assert jobs.require(job_id)["checks"] == 1


def test_unconfirmed_upload_is_looked_at_again_when_its_bound_is_reached(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]]
) -> None:
    # Given an unconfirmed upload 10 s old, looked for within 60 s, at a Check whose planned wait is the 900 s cap
    job_id = tracked_job(upload_confirmed=False)

    state = check_at(job_id, seconds=10, previous={"attempt": 5}, find_upload_seconds=60)

    # Then the next Check comes one second after the bound, not 15 minutes later
    assert state["wait_seconds"] == 51


def test_confirmed_upload_waits_as_planned_before_its_bound(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]]
) -> None:
    job_id = tracked_job(upload_confirmed=True)

    state = check_at(job_id, seconds=10, previous={"attempt": 5}, find_upload_seconds=60)

    assert state["wait_seconds"] == 900


def test_confirmed_upload_whose_detection_never_appears_times_out(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]]
) -> None:
    job_id = tracked_job(upload_confirmed=True)

    state = check_at(job_id, seconds=BOUND + 1)

    assert (state["timed_out"], state["resubmit"]) == (True, False)
    assert state["reason"] == f"the uploaded file's detection did not appear in DoveRunner's list within {BOUND}s"


def test_unconfirmed_upload_without_a_detection_after_the_bound_is_asked_again(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(upload_confirmed=False)

    state = check_at(job_id, seconds=BOUND + 1)

    job = jobs.require(job_id)
    assert (state["resubmit"], state["timed_out"], state["uploads"]) == (True, False, 1)
    assert (job["resubmit_requested_after"], job["resubmit_requests"]) == (1, 1)


def test_request_to_upload_again_is_not_repeated_while_under_way(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]]
) -> None:
    job_id = tracked_job(upload_confirmed=False)
    check_at(job_id, seconds=BOUND + 1)

    state = check_at(job_id, seconds=BOUND + 60)

    assert state["resubmit"] is False


@pytest.mark.parametrize(("seconds_ago", "asked_again"), [(1.5 * BOUND, False), (2.5 * BOUND, True)])
def test_each_repeat_of_an_unanswered_request_waits_twice_as_long(
    tracked_job: Callable[..., str],
    check_at: Callable[..., dict[str, Any]],
    submitted_at: datetime,
    seconds_ago: float,
    asked_again: bool,
) -> None:
    # Given a request made twice already for the same upload, the last `seconds_ago` before the Check
    moment = 4 * BOUND
    asked = submitted_at + timedelta(seconds=moment - seconds_ago)
    job_id = tracked_job(
        upload_confirmed=False,
        resubmit_requested_at=now_iso(asked),
        resubmit_requested_after=1,
        resubmit_requests=2,
    )

    state = check_at(job_id, seconds=moment)

    # Then it is made a third time only after twice the bound
    assert state["resubmit"] is asked_again


def test_request_made_for_an_older_upload_does_not_hold_back_one_for_the_new_upload(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], submitted_at: datetime
) -> None:
    job_id = tracked_job(
        upload_confirmed=False,
        uploads=2,
        resubmit_requested_at=now_iso(submitted_at),
        resubmit_requested_after=1,
        resubmit_requests=1,
    )

    state = check_at(job_id, seconds=BOUND + 1)

    assert state["resubmit"] is True


def test_unconfirmed_uploads_up_to_the_limit_end_timed_out(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(upload_confirmed=False, uploads=MAX_UPLOADS)

    state = check_at(job_id, seconds=BOUND + 1)

    assert (state["timed_out"], state["resubmit"]) == (True, False)
    assert state["reason"].startswith(f"{MAX_UPLOADS} uploads failed after their last byte")
    assert "resubmit_requested_at" not in jobs.require(job_id)


def test_one_upload_under_the_limit_is_still_asked_again(
    tracked_job: Callable[..., str], check_at: Callable[..., dict[str, Any]]
) -> None:
    job_id = tracked_job(upload_confirmed=False, uploads=MAX_UPLOADS - 1)

    state = check_at(job_id, seconds=BOUND + 1)

    assert (state["timed_out"], state["resubmit"]) == (False, True)
