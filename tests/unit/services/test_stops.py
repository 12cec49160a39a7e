"""Stopping a job: an operator's stop (services/cancel.py) and a live detection's time box (services/track.py) both
go through DoveRunner's stop API and end the job CANCELED with who and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs, MemoryObjects, MemoryResultsTopic

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import JobState
from antipiracy.services.cancel import CannotCancel, cancel
from antipiracy.services.report import Reports, finish
from antipiracy.services.track import check
from antipiracy.services.wake import Waker

BUCKET = "inbox-bucket"  # the services conftest's bucket
SUBMITTED_AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # when its tracked jobs were submitted


@pytest.fixture
def stop(
    jobs: MemoryJobs, reports: Reports, results: MemoryResultsTopic, executions: MemoryExecutions
) -> Callable[..., dict[str, Any]]:
    def run(job_id: str, by: str = "ops@example.com", why: str = "false positive") -> dict[str, Any]:
        return cancel(
            job_id, by=by, why=why, jobs=jobs, reports=reports, results=results, waker=Waker(jobs, executions)
        )

    return run


@pytest.fixture
def live_job(tracked_job: Callable[..., str], doverunner: FakeDoveRunner) -> Callable[..., tuple[str, int]]:
    def make(max_seconds: int = 600) -> tuple[str, int]:
        detection_id = doverunner.add("match", status="FD003", progress="FD311", req_type="stream")
        job_id = tracked_job(
            method="live",
            detection_id=detection_id,
            request={"type": "live", "url": "https://live.example/m.m3u8", "line": 1, "max_seconds": max_seconds},
        )
        return job_id, detection_id

    return make


def check_at(job_id: str, seconds: float, jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig) -> Any:
    return check(job_id, {}, jobs=jobs, client=doverunner, config=config, now=SUBMITTED_AT + timedelta(seconds=seconds))


# ---- time box --------------------------------------------------------------------------------------------------


def test_a_live_detection_within_its_time_box_is_not_stopped_and_looked_at_when_it_ends(
    live_job: Callable[..., tuple[str, int]], jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    job_id, _ = live_job(max_seconds=600)

    result = check_at(job_id, 590, jobs, doverunner, config)

    assert doverunner.stops == []
    assert result["wait_seconds"] <= 11


def test_a_live_detection_past_its_time_box_is_stopped_through_the_stop_api(
    live_job: Callable[..., tuple[str, int]], jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    job_id, detection_id = live_job(max_seconds=600)

    check_at(job_id, 601, jobs, doverunner, config)
    check_at(job_id, 640, jobs, doverunner, config)

    cancel_record = jobs.require(job_id)["cancel"]
    assert doverunner.stops == [detection_id]
    assert cancel_record["by"] == "time box"
    assert cancel_record["stop_answer"] == "stopped"


def test_a_live_detection_stopped_at_its_time_box_is_reported_canceled_saying_so(
    live_job: Callable[..., tuple[str, int]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    reports: Reports,
    objects: MemoryObjects,
    results: MemoryResultsTopic,
) -> None:
    job_id, detection_id = live_job(max_seconds=600)
    check_at(job_id, 601, jobs, doverunner, config)
    doverunner.set_status(detection_id, "FD005", "FD520")

    ended = check_at(job_id, 620, jobs, doverunner, config)
    finish(job_id, "terminal", jobs=jobs, reports=reports, results=results)

    report = objects.document(BUCKET, jobs.require(job_id)["report_key"])
    assert ended["terminal"] is True
    assert (report["state"], report["outcome"]) == ("CANCELED", "CANCELED")
    assert report["reason"] == "ended at its time box: the live detection was stopped after 600 s (max_seconds)"


def test_a_live_detection_that_ended_before_its_stop_keeps_its_result(
    live_job: Callable[..., tuple[str, int]], jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    job_id, detection_id = live_job(max_seconds=600)
    doverunner.set_status(detection_id, "FD004", "FD400", wm_key="00000000000000ff", wm_data="session_id=s1")

    result = check_at(job_id, 601, jobs, doverunner, config)

    assert (result["terminal"], jobs.require(job_id)["cancel"]["stop_answer"]) == (True, "already ended (A4028)")


def test_a_video_job_has_no_time_box(
    tracked_job: Callable[..., str], jobs: MemoryJobs, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    detection_id = doverunner.add("movie", status="FD003", progress="FD311")
    job_id = tracked_job(detection_id=detection_id)

    check_at(job_id, 100_000, jobs, doverunner, config)

    assert (doverunner.stops, "cancel" in jobs.require(job_id)) == ([], False)


# ---- an operator's stop ----------------------------------------------------------------------------------------


def test_an_operators_stop_of_a_tracked_job_is_sent_at_its_next_check_and_wakes_it(
    stop: Callable[..., dict[str, Any]],
    live_job: Callable[..., tuple[str, int]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    executions: MemoryExecutions,
) -> None:
    job_id, detection_id = live_job()
    jobs.keep_wake_token(job_id, "token-1", 1)

    answer = stop(job_id)
    check_at(job_id, 10, jobs, doverunner, config)

    assert answer["action"] == "stop_requested"
    assert executions.woken == [("token-1", job_id)]
    assert doverunner.stops == [detection_id]
    assert jobs.require(job_id)["cancel"]["reason"] == "stopped by ops@example.com: false positive"


def test_an_operators_stop_ends_the_job_canceled_with_who_and_why(
    stop: Callable[..., dict[str, Any]],
    live_job: Callable[..., tuple[str, int]],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    reports: Reports,
    objects: MemoryObjects,
    results: MemoryResultsTopic,
) -> None:
    job_id, detection_id = live_job()
    stop(job_id)
    check_at(job_id, 10, jobs, doverunner, config)
    doverunner.set_status(detection_id, "FD005", "FD520")
    check_at(job_id, 20, jobs, doverunner, config)

    finish(job_id, "terminal", jobs=jobs, reports=reports, results=results)

    report = objects.document(BUCKET, jobs.require(job_id)["report_key"])
    assert (report["outcome"], report["cancel"]["by"]) == ("CANCELED", "ops@example.com")
    assert report["reason"] == "stopped by ops@example.com: false positive"
    assert results.published[-1][1]["outcome"] == "CANCELED"


def test_a_held_job_stopped_ends_canceled_at_once_with_its_report(
    stop: Callable[..., dict[str, Any]],
    tracked_job: Callable[..., str],
    jobs: MemoryJobs,
    objects: MemoryObjects,
    doverunner: FakeDoveRunner,
) -> None:
    job_id = tracked_job(state=JobState.HELD.value)

    answer = stop(job_id, why="")

    report = objects.document(BUCKET, jobs.require(job_id)["report_key"])
    assert (answer["action"], jobs.require(job_id)["state"]) == ("canceled", "CANCELED")
    assert (report["outcome"], report["reason"]) == ("CANCELED", "stopped by ops@example.com")
    assert doverunner.stops == []


def test_a_finished_job_cannot_be_stopped(stop: Callable[..., dict[str, Any]], tracked_job: Callable[..., str]) -> None:
    job_id = tracked_job(state=JobState.COMPLETED.value)

    with pytest.raises(CannotCancel, match="has ended already"):
        stop(job_id)


def test_a_stop_says_who_stops(stop: Callable[..., dict[str, Any]], tracked_job: Callable[..., str]) -> None:
    with pytest.raises(CannotCancel, match="say who"):
        stop(tracked_job(), by=" ")


def test_a_detection_stopped_outside_the_pipeline_is_reported_canceled_saying_so(
    tracked_job: Callable[..., str],
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    reports: Reports,
    objects: MemoryObjects,
) -> None:
    detection_id = doverunner.add("movie", status="FD005", progress="FD520")
    job_id = tracked_job(detection_id=detection_id)
    check_at(job_id, 10, jobs, doverunner, config)

    finish(job_id, "terminal", jobs=jobs, reports=reports, results=None)

    report = objects.document(BUCKET, jobs.require(job_id)["report_key"])
    assert (report["state"], report["outcome"]) == ("CANCELED", "CANCELED")
    assert report["reason"] == "the detection was stopped outside the pipeline (DoveRunner's stop API or console)"


class StaleRead(MemoryJobs):
    """The jobs table as a second operator read it: before the first one's stop was written."""

    def __init__(self, jobs: MemoryJobs) -> None:
        super().__init__()
        self.items = jobs.items

    def require(self, job_id: str) -> dict[str, Any]:
        job = super().require(job_id)
        job.pop("cancel", None)
        return job


def test_of_two_stops_at_once_the_first_ones_who_and_why_stand(
    stop: Callable[..., dict[str, Any]], live_job: Callable[..., tuple[str, int]], jobs: MemoryJobs
) -> None:
    job_id, _ = live_job()
    stop(job_id, by="first-operator")

    with pytest.raises(CannotCancel, match="being stopped already"):
        cancel(job_id, by="second-operator", why="", jobs=StaleRead(jobs), reports=Reports(MemoryObjects(), "results/"),
               results=None, waker=Waker(jobs, MemoryExecutions()))  # fmt: skip

    assert jobs.require(job_id)["cancel"]["by"] == "first-operator"
