"""An upload whose answer never came: tracked, looked for, uploaded again after a bounded time; never lost, never
detected twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_pipeline import LocalPipeline

from antipiracy.domain.jobs import JobState, job_id_for, now_iso
from antipiracy.domain.preflight import Policy
from antipiracy.domain.requests import ResubmitRequest
from antipiracy.services.track import MAX_UPLOADS, JobEnded, check

BOUND = 1800  # the pipeline fixture's find_upload_seconds


def uploads_seen(pipeline: LocalPipeline) -> list[int]:
    """Every complete upload the local DoveRunner received: the detection it registered."""
    return [r["detection_id"] for r in pipeline.local.emulator.requests_seen if r.get("operation") == "upload"]


def reset_upload(pipeline: LocalPipeline, video_bytes: Callable[..., bytes], key: str = "inbox/reset.mp4") -> str:
    """A job whose one-chunk upload the server reset halfway, after the connection had taken every byte: a short
    clip, small enough for one chunk, sent with the pre-flight check off (it is the upload that is tested)."""
    pipeline.local.config.faults.next_upload_resets = 1
    body = video_bytes(size=600 * 1024, short=True)
    return pipeline.submitter(preflight=Policy.OFF).submit(pipeline.put(key, body)).job_id


def ago(seconds: float) -> str:
    return now_iso(datetime.now(UTC) - timedelta(seconds=seconds))


def check_at(pipeline: LocalPipeline, job_id: str, seconds_after_upload: float) -> dict[str, Any]:
    submitted = datetime.strptime(pipeline.jobs.require(job_id)["submitted_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    moment = submitted.replace(tzinfo=UTC) + timedelta(seconds=seconds_after_upload)
    return check(job_id, {}, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config, now=moment)


def test_upload_reset_after_its_last_byte_is_tracked_unconfirmed(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)

    job = pipeline.jobs.require(job_id)
    assert (job["state"], job["upload_confirmed"], job["uploads"]) == ("TRACKING", False, 1)
    assert uploads_seen(pipeline) == []


def test_unconfirmed_upload_is_looked_for_until_the_bound(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)

    state = check_at(pipeline, job_id, BOUND - 1)

    assert (state["resubmit"], state["timed_out"], state["terminal"]) == (False, False, False)


def test_unconfirmed_upload_is_looked_at_again_when_the_bound_is_reached(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given a job tracked unconfirmed, looked for within 60 s, at a Check whose planned wait is the 900 s cap
    job_id = reset_upload(pipeline, video_bytes)
    config = replace(pipeline.config, find_upload_seconds=60)

    state = check(job_id, {"attempt": 5}, jobs=pipeline.jobs, client=pipeline.client, config=config)

    # Then the next Check comes when the 60 s are up, not 15 minutes later
    assert 1 <= state["wait_seconds"] <= 61


def test_unconfirmed_upload_without_a_detection_after_the_bound_is_asked_again_once(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)

    first = check_at(pipeline, job_id, BOUND + 1)
    second = check_at(pipeline, job_id, BOUND + 60)

    assert (first["resubmit"], first["uploads"]) == (True, 1)
    assert second["resubmit"] is False  # the request is under way
    assert pipeline.jobs.require(job_id)["resubmit_requested_after"] == 1


def test_a_request_lost_for_a_whole_bound_is_made_again(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)
    pipeline.jobs.update(
        job_id, {"resubmit_requested_at": ago(2 * BOUND), "resubmit_requested_after": 1, "resubmit_requests": 1}
    )

    state = check_at(pipeline, job_id, 3 * BOUND)

    assert state["resubmit"] is True
    assert pipeline.jobs.require(job_id)["resubmit_requests"] == 2


@pytest.mark.parametrize(("seconds_ago", "asked_again"), [(1.5 * BOUND, False), (2.5 * BOUND, True)])
def test_each_repeat_of_an_unanswered_request_waits_twice_as_long(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes], seconds_ago: float, asked_again: bool
) -> None:
    # Given a request made twice already for the same upload, the last `seconds_ago`
    job_id = reset_upload(pipeline, video_bytes)
    pipeline.jobs.update(
        job_id,
        {
            "submitted_at": ago(4 * BOUND),
            "resubmit_requested_at": ago(seconds_ago),
            "resubmit_requested_after": 1,
            "resubmit_requests": 2,
        },
    )

    state = check(job_id, {}, jobs=pipeline.jobs, client=pipeline.client, config=pipeline.config)

    # Then it is made a third time only after twice the bound
    assert state["resubmit"] is asked_again


def test_resubmit_request_uploads_again_and_the_detection_is_found(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)

    result = pipeline.submitter().resubmit(ResubmitRequest(job_id, 1))
    state = check_at(pipeline, job_id, 1)

    job = pipeline.jobs.require(job_id)
    assert result.action == "submitted"
    assert (job["state"], job["upload_confirmed"], job["uploads"]) == ("TRACKING", True, 2)
    assert state["detection_id"] == uploads_seen(pipeline)[0]
    assert len(uploads_seen(pipeline)) == 1


def test_upload_made_again_wakes_the_waiting_execution(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given an execution waiting for its next check, its task token kept on the job
    job_id = reset_upload(pipeline, video_bytes)
    pipeline.jobs.keep_wake_token(job_id, "token-of-the-wait", attempt=3)

    pipeline.submitter().resubmit(ResubmitRequest(job_id, 1))

    # Then the token was taken to end the wait (the job is marked, so a wait starting now ends at once too)
    job = pipeline.jobs.require(job_id)
    assert "wake_token" not in job
    assert job["wake_requested_at"]


def test_resubmit_request_delivered_three_times_uploads_once(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)

    actions = [pipeline.submitter().resubmit(ResubmitRequest(job_id, 1)).action for _ in range(3)]

    assert actions == ["submitted", "duplicate", "duplicate"]
    assert len(uploads_seen(pipeline)) == 1


def test_resubmit_request_for_a_job_whose_detection_was_found_uploads_nothing(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = pipeline.submitter().submit(pipeline.put("inbox/fine.mp4", video_bytes())).job_id
    check_at(pipeline, job_id, 1)

    result = pipeline.submitter().resubmit(ResubmitRequest(job_id, 1))

    assert result.action == "duplicate"
    assert len(uploads_seen(pipeline)) == 1


def test_ten_unconfirmed_uploads_end_timed_out_with_the_reason(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)
    for uploads in range(1, MAX_UPLOADS):
        pipeline.local.config.faults.next_upload_resets = 1
        pipeline.submitter().resubmit(ResubmitRequest(job_id, uploads))

    state = check_at(pipeline, job_id, BOUND + 1)

    assert (state["timed_out"], state["resubmit"]) == (True, False)
    assert f"{MAX_UPLOADS} uploads failed after their last byte" in state["reason"]
    assert uploads_seen(pipeline) == []


def test_confirmed_upload_whose_detection_never_appears_times_out_without_uploading_again(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = pipeline.submitter().submit(pipeline.put("inbox/lost-by-doverunner.mp4", video_bytes())).job_id
    pipeline.jobs.update(job_id, {"dr_title": "a title DoveRunner never registered"})

    state = check_at(pipeline, job_id, BOUND + 1)

    assert (state["timed_out"], state["resubmit"]) == (True, False)
    assert "did not appear" in state["reason"]


def test_interrupted_upload_begun_recently_is_tracked_not_sent_again(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given a delivery that claimed the job and died during its upload, a minute ago
    ref = pipeline.put("inbox/died-uploading.mp4", video_bytes())
    job_id = job_id_for(ref.bucket, ref.key, ref.version)
    pipeline.submitter().submit(ref)
    pipeline.local.emulator.reset()  # as if DoveRunner never stored it
    pipeline.jobs.update(job_id, {"state": JobState.SUBMITTING.value, "detection_id": None, "submitting_at": now_iso()})

    # When the message comes back
    result = pipeline.submitter().submit(ref)

    # Then it is tracked unconfirmed: the upload may still register, so nothing is sent now
    job = pipeline.jobs.require(job_id)
    assert result.action == "submitted"
    assert (job["state"], job["upload_confirmed"]) == ("TRACKING", False)
    assert uploads_seen(pipeline) == []


def test_check_of_a_job_that_ended_outside_tracking_fails_so_its_report_is_written(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    job_id = reset_upload(pipeline, video_bytes)
    pipeline.local.config.detection_quota = 0
    pipeline.submitter().resubmit(ResubmitRequest(job_id, 1))  # DoveRunner refuses it: A4019

    with pytest.raises(JobEnded, match="FAILED"):
        check_at(pipeline, job_id, 1)
