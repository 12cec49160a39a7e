"""Following a job's detection to its end, and reporting it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from local_pipeline import LocalPipeline

from antipiracy.domain.jobs import JobState
from antipiracy.domain.schedule import next_wait
from antipiracy.services.report import finish, finish_after_failure
from antipiracy.services.track import check


def submitted(pipeline: LocalPipeline, body: bytes, key: str = "inbox/movie.mp4", **changes: object) -> str:
    return pipeline.submitter(**changes).submit(pipeline.put(key, body)).job_id


def follow(pipeline: LocalPipeline, job_id: str) -> dict[str, object]:
    state: dict[str, object] = {}
    for _ in range(200):
        state = check(job_id, state, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config)
        if state["terminal"] or state["timed_out"]:
            return state
        pipeline.local.emulator.wait_idle(0.05)
    raise AssertionError("never terminal")


def test_waits_grow_from_the_initial_wait_to_the_cap(pipeline: LocalPipeline) -> None:
    config = replace(pipeline.config, initial_wait_seconds=30, max_wait_seconds=900, wait_growth=2)

    assert [next_wait(n, config) for n in range(7)] == [30, 60, 120, 240, 480, 900, 900]


def test_upload_detection_is_found_by_title_and_followed_to_the_end(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes(mark="0000000000000001"))

    final = follow(pipeline, job_id)

    job = pipeline.jobs.require(job_id)
    assert final["terminal"] is True
    assert (job["detect_status"], job["wm_key"], job["watermark_found"]) == ("FD004", "0000000000000001", True)
    assert "sess-1001" in job["wm_data"]


def test_each_status_change_is_recorded_once_in_the_history(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes())

    follow(pipeline, job_id)
    check(
        job_id,
        {"detection_id": pipeline.jobs.require(job_id)["detection_id"]},
        jobs=pipeline.jobs,
        client=pipeline.client,
        config=pipeline.config,
    )

    history = pipeline.jobs.require(job_id)["history"]
    statuses = [(h["detect_status"], h["progress_status"]) for h in history]
    assert statuses[-1] == ("FD004", "FD400")
    assert len(statuses) == len(set(statuses))


def test_failed_detection_records_the_d_code_with_its_explanation(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes(fail="D004"))

    follow(pipeline, job_id)

    job = pipeline.jobs.require(job_id)
    assert (job["detect_status"], job["error"]["error_code"]) == ("FD007", "D004")
    assert job["error"]["description"] == "The resolution is below 480P."


def test_check_answers_the_notification_that_woke_it(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes())
    assert pipeline.jobs.request_wake(job_id) == (True, None)  # a notification came, no execution waiting yet

    check(job_id, {"attempt": 1}, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config)

    # so the next wait waits again (tests/pipeline/test_waking.py)
    assert "wake_requested_at" not in pipeline.jobs.require(job_id)


def test_tracking_ends_in_a_timeout_after_the_maximum_time(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes())
    later = datetime.now(UTC) + timedelta(days=8)

    state = check(job_id, {}, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config, now=later)

    assert state["timed_out"] is True
    assert "604800" in state["reason"]


def test_upload_whose_detection_never_appears_times_out_with_a_reason(pipeline: LocalPipeline) -> None:
    job_id = submitted(pipeline, b"")  # rejected: never reaches DoveRunner, so never appears
    pipeline.jobs.update(job_id, {"state": JobState.TRACKING.value, "submitted_at": "2026-01-01T00:00:00.000000Z"})

    state = check(
        job_id,
        {},
        jobs=pipeline.jobs,
        client=pipeline.client,
        config=replace(pipeline.config, max_tracking_seconds=10**9),
    )

    assert state["timed_out"] is True
    assert "did not appear" in state["reason"]


def test_report_is_written_next_to_the_input_and_the_result_published(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes(mark="0000000000000002"), key="inbox/드라마 1화.mp4")
    follow(pipeline, job_id)

    summary = finish(job_id, "terminal", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic)

    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="results/inbox/드라마 1화.mp4.json")["Body"].read()
    )
    assert report["state"] == "COMPLETED"
    assert report["forensic_mark"]["wm_key"] == "0000000000000002"
    assert report["input"]["sha256"]
    assert report["input"]["key"] == "inbox/드라마 1화.mp4"
    assert [h["detect_status"] for h in report["history"]][-1] == "FD004"
    assert pipeline.jobs.require(job_id)["state"] == "COMPLETED"
    assert pipeline.results() == [summary]


def test_report_of_a_failure_carries_the_guides_cause_and_solution(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes(fail="D002"))
    follow(pipeline, job_id)

    finish(job_id, "terminal", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic)

    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="results/inbox/movie.mp4.json")["Body"].read()
    )
    assert report["error"]["error_code"] == "D002"
    assert "5 minutes" in report["error"]["solution"]


def test_timeout_report_says_why(pipeline: LocalPipeline, video_bytes: Callable[..., bytes]) -> None:
    job_id = submitted(pipeline, video_bytes())

    summary = finish(
        job_id,
        "timed_out",
        jobs=pipeline.jobs,
        reports=pipeline.reports,
        results=pipeline.results_topic,
        reason="no terminal status after 10s of tracking",
    )

    assert summary["state"] == "TIMED_OUT"
    assert pipeline.jobs.require(job_id)["reason"] == "no terminal status after 10s of tracking"


def test_pipeline_error_report_explains_a_doverunner_code_in_the_cause(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes())
    error = {
        "Error": "DoveRunnerApiError",
        "Cause": json.dumps(
            {"errorMessage": "DoveRunner detection detail failed: A4009 Cannot find detect information"}
        ),
    }

    finish(job_id, "error", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic, error=error)

    job = pipeline.jobs.require(job_id)
    assert job["state"] == "FAILED"
    assert job["error"]["error_code"] == "A4009"


def report_step_error(message: str) -> dict[str, str]:
    """What a Step Functions Catch puts in `$.report_error` when the report function raised."""
    return {"Error": "TypeError", "Cause": json.dumps({"errorMessage": message, "errorType": "TypeError"})}


def test_failed_report_step_leaves_a_plain_report_with_the_error_and_the_job_failed(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given a tracked job whose report step failed
    job_id = submitted(pipeline, video_bytes(), key="inbox/unreportable.mp4")
    error = report_step_error("Object of type Binary is not JSON serializable")

    # When the fallback runs
    summary = finish_after_failure(
        job_id, error, jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic
    )

    # Then the report says what failed, the job is FAILED, and the result is published
    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="results/inbox/unreportable.mp4.json")["Body"].read()
    )
    job = pipeline.jobs.require(job_id)
    assert (report["state"], report["job_id"]) == ("FAILED", job_id)
    assert report["reason"] == "the report step failed: Object of type Binary is not JSON serializable"
    assert report["error"]["error_type"] == "TypeError"
    assert report["input"]["key"] == "inbox/unreportable.mp4"
    assert (job["state"], job["report_key"]) == (
        "FAILED",
        f"results/inbox/unreportable.mp4.versions/{job['version_id']}.json",
    )
    assert pipeline.results() == [summary]


def test_report_step_that_failed_after_finishing_the_job_keeps_its_report(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes(mark="0000000000000001"), key="inbox/reported.mp4")
    follow(pipeline, job_id)
    finish(job_id, "terminal", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic)

    finish_after_failure(
        job_id,
        report_step_error("publishing failed"),
        jobs=pipeline.jobs,
        reports=pipeline.reports,
        results=pipeline.results_topic,
    )

    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="results/inbox/reported.mp4.json")["Body"].read()
    )
    job = pipeline.jobs.require(job_id)
    assert (report["state"], report["watermark_found"]) == ("COMPLETED", True)
    assert (job["state"], job["report_error"]["message"]) == ("COMPLETED", "publishing failed")


def test_report_of_a_job_back_to_received_for_an_upload_again_finishes_it(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = submitted(pipeline, video_bytes())
    pipeline.jobs.update(job_id, {"state": JobState.RECEIVED.value})

    finish(job_id, "timed_out", jobs=pipeline.jobs, reports=pipeline.reports, results=pipeline.results_topic)

    assert pipeline.jobs.require(job_id)["state"] == "TIMED_OUT"
