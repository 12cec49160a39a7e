"""Submitting dropped videos: one DoveRunner detection per object version, failures recorded with a reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from local_pipeline import LocalPipeline

from antipiracy.domain.jobs import JobState, dr_title, job_id_for
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.events import refs_from_message
from antipiracy.services.submit import RetryLater
from doverunner_local.samples import COMPLIANT_SIZE


def detection_requests(pipeline: LocalPipeline) -> list[str]:
    """DoveRunner calls that can create a detection: detection by URL, and completed uploads."""
    return [r["operation"] for r in pipeline.local.emulator.requests_seen if r.get("operation") in ("url", "upload")]


def test_dropped_video_is_uploaded_and_its_tracking_starts(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    body = video_bytes(mark="0000000000000001")
    ref = pipeline.put("inbox/movie.mp4", body)

    result = pipeline.submitter().submit(ref)

    job = pipeline.jobs.require(result.job_id)
    assert (result.action, job["state"], job["method"]) == ("submitted", "TRACKING", "upload")
    assert job["sha256"] == hashlib.sha256(body).hexdigest()
    assert [e["name"] for e in pipeline.executions()] == [result.job_id]
    assert [d["title"] for d in pipeline.local.emulator.snapshot()["detections"]] == [job["dr_title"]]


def test_large_object_goes_through_url_detection_with_a_presigned_url(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    ref = pipeline.put("inbox/huge.mkv", video_bytes("mkv", mark="0000000000000002"))

    result = pipeline.submitter(url_detection_threshold=1000).submit(ref)
    pipeline.local.emulator.wait_idle(10)

    job = pipeline.jobs.require(result.job_id)
    detection = pipeline.local.emulator.detections[job["detection_id"]]
    assert job["method"] == "url"
    assert (detection.req_type, detection.wm_key) == ("url", "0000000000000002")


def test_same_event_three_times_gives_one_detection(pipeline: LocalPipeline, video_bytes: Callable[..., bytes]) -> None:
    ref = pipeline.put("inbox/again.mp4", video_bytes())
    submitter = pipeline.submitter()

    actions = [submitter.submit(ref).action for _ in range(3)]

    assert actions == ["submitted", "duplicate", "duplicate"]
    assert detection_requests(pipeline) == ["upload"]
    assert len(pipeline.executions()) == 1


def test_new_version_of_the_same_key_is_a_new_job(pipeline: LocalPipeline, video_bytes: Callable[..., bytes]) -> None:
    first = pipeline.submitter().submit(pipeline.put("inbox/v.mp4", video_bytes()))
    second = pipeline.submitter().submit(pipeline.put("inbox/v.mp4", video_bytes(size=COMPLIANT_SIZE + 1000)))

    assert first.job_id != second.job_id
    assert detection_requests(pipeline) == ["upload", "upload"]


def test_events_of_two_versions_out_of_order_each_submit_their_own_bytes(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    old_body, new_body = video_bytes(), video_bytes(size=COMPLIANT_SIZE + 1000)
    old_ref = pipeline.put("inbox/order.mp4", old_body)
    new_ref = pipeline.put("inbox/order.mp4", new_body)

    newer = pipeline.submitter().submit(new_ref)
    older = pipeline.submitter().submit(old_ref)

    assert pipeline.jobs.require(older.job_id)["sha256"] == hashlib.sha256(old_body).hexdigest()
    assert pipeline.jobs.require(newer.job_id)["sha256"] == hashlib.sha256(new_body).hexdigest()
    assert detection_requests(pipeline) == ["upload", "upload"]


def test_object_deleted_after_its_drop_is_still_submitted_from_its_version(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given a drop whose key was deleted (a delete marker) before its event was processed
    body = video_bytes()
    ref = pipeline.put("inbox/deleted-later.mp4", body)
    pipeline.s3.delete_object(Bucket=ref.bucket, Key=ref.key)

    result = pipeline.submitter().submit(ref)

    # Then the version that was dropped is what DoveRunner gets
    assert result.action == "submitted"
    assert pipeline.jobs.require(result.job_id)["sha256"] == hashlib.sha256(body).hexdigest()


def test_version_deleted_for_good_before_processing_is_rejected_with_a_report(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    ref = pipeline.put("inbox/purged.mp4", video_bytes())
    pipeline.s3.delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)

    result = pipeline.submitter().submit(ref)

    report = json.loads(pipeline.s3.get_object(Bucket=ref.bucket, Key="results/inbox/purged.mp4.json")["Body"].read())
    assert (result.state, report["state"]) == ("REJECTED", "REJECTED")
    assert "no longer exists" in report["reason"]
    assert detection_requests(pipeline) == []


@pytest.mark.parametrize("key", ["inbox/clip.avi", "inbox/noextension", "inbox/movie.mp4.txt"])
def test_unsupported_file_is_rejected_without_a_doverunner_call(pipeline: LocalPipeline, key: str) -> None:
    result = pipeline.submitter().submit(pipeline.put(key, b"\x00" * 100))

    job = pipeline.jobs.require(result.job_id)
    assert (job["state"], result.action) == ("REJECTED", "rejected")
    assert "unsupported file type" in job["reason"]
    assert pipeline.local.emulator.requests_seen == []


def test_rejected_object_gets_a_report_where_the_operator_looks(pipeline: LocalPipeline) -> None:
    pipeline.submitter().submit(pipeline.put("inbox/clip.avi", b"\x00" * 100))

    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="results/inbox/clip.avi.json")["Body"].read()
    )

    assert report["state"] == "REJECTED"
    assert "unsupported file type (.avi)" in report["reason"]


def test_empty_object_is_rejected_without_a_doverunner_call(pipeline: LocalPipeline) -> None:
    result = pipeline.submitter().submit(pipeline.put("inbox/empty.mp4", b""))

    assert "empty" in pipeline.jobs.require(result.job_id)["reason"]
    assert pipeline.local.emulator.requests_seen == []


def test_object_deleted_before_processing_is_recorded_as_rejected(pipeline: LocalPipeline) -> None:
    ref = S3ObjectRef(pipeline.bucket, "inbox/gone.mp4", None, "etag", "seq")

    result = pipeline.submitter().submit(ref)

    assert "no longer exists" in pipeline.jobs.require(result.job_id)["reason"]


def test_title_comes_from_metadata_percent_encoded(pipeline: LocalPipeline, video_bytes: Callable[..., bytes]) -> None:
    ref = pipeline.put("inbox/x.mp4", video_bytes(), Metadata={"title": "%ED%95%B4%EC%A0%81%ED%8C%90%20EP1"})

    job = pipeline.jobs.require(pipeline.submitter().submit(ref).job_id)

    assert job["title"] == "해적판 EP1"
    assert job["dr_title"] == dr_title("해적판 EP1", job["job_id"])


def test_title_defaults_to_the_file_name(pipeline: LocalPipeline, video_bytes: Callable[..., bytes]) -> None:
    job = pipeline.jobs.require(pipeline.submitter().submit(pipeline.put("inbox/a/b c.mov", video_bytes("mov"))).job_id)

    assert job["title"] == "b c.mov"


@pytest.mark.parametrize(
    ("key", "metadata", "service"),
    [
        ("inbox/dwm/a.mp4", {}, "PD006"),
        ("inbox/FWM/a.mp4", {}, "PD002"),
        ("inbox/a.mp4", {"service": "DWM"}, "PD006"),
        ("inbox/dwm/a.mp4", {"service": "FWM"}, "PD002"),
        ("inbox/other/a.mp4", {}, "PD002"),
    ],
)
def test_service_comes_from_metadata_then_key_prefix_then_default(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes], key: str, metadata: dict[str, str], service: str
) -> None:
    job = pipeline.jobs.require(pipeline.submitter().submit(pipeline.put(key, video_bytes(), Metadata=metadata)).job_id)

    assert job["service"] == service


def test_keys_with_spaces_plus_and_korean_are_decoded_from_the_event(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    ref = pipeline.put("inbox/해적 판 +1.mp4", video_bytes())

    (decoded,) = refs_from_message(pipeline.s3_event(ref))
    result = pipeline.submitter().submit(decoded)

    assert decoded.key == "inbox/해적 판 +1.mp4"
    assert pipeline.jobs.require(result.job_id)["state"] == "TRACKING"


def test_quota_refusal_holds_the_job_with_the_guides_explanation(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    pipeline.local.config.detection_quota = 0

    result = pipeline.submitter().submit(pipeline.put("inbox/q.mp4", video_bytes()))

    job = pipeline.jobs.require(result.job_id)
    assert (job["state"], job["error"]["error_code"], job["hold"]["kind"]) == ("HELD", "A4019", "quota")
    assert job["error"]["solution"] == "Try to reset detection count."


def test_unreachable_doverunner_leaves_the_job_for_the_next_delivery(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    ref = pipeline.put("inbox/later.mp4", video_bytes())
    pipeline.local.config.faults.next_errors = 4  # every attempt of the signed-URL request
    pipeline.local.config.faults.error_path = "/PD002/token"

    with pytest.raises(RetryLater):
        pipeline.submitter().submit(ref)
    retried = pipeline.submitter().submit(ref)

    assert pipeline.jobs.require(retried.job_id)["state"] == "TRACKING"
    assert detection_requests(pipeline) == ["upload"]


def test_interrupted_submission_is_adopted_not_sent_twice(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    # Given a delivery that sent the upload and died before recording it
    ref = pipeline.put("inbox/crash.mp4", video_bytes())
    job_id = job_id_for(ref.bucket, ref.key, ref.version)
    pipeline.submitter().submit(ref)
    pipeline.jobs.update(job_id, {"state": JobState.SUBMITTING.value, "detection_id": None})

    # When the message comes back
    result = pipeline.submitter().submit(ref)

    # Then the detection is found by its title and adopted
    assert result.action == "adopted"
    assert detection_requests(pipeline) == ["upload"]


def test_interrupted_submission_that_never_reached_doverunner_is_sent(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    ref = pipeline.put("inbox/early-crash.mp4", video_bytes())
    job_id = job_id_for(ref.bucket, ref.key, ref.version)
    pipeline.jobs.create(
        {
            "job_id": job_id,
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": ref.version_id,
            "size": 65536,
            "title": "t",
            "dr_title": dr_title("t", job_id),
            "service": "PD002",
            "method": "upload",
            "extension": "mp4",
        }
    )
    pipeline.jobs.update(job_id, {"state": JobState.SUBMITTING.value})

    result = pipeline.submitter().submit(ref)

    assert result.action == "submitted"
    assert detection_requests(pipeline) == ["upload"]


def test_upload_reset_midway_is_sent_again_from_a_fresh_s3_read(
    pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    size = 40 * 1024 * 1024
    body = video_bytes(size=size)
    ref = pipeline.put("inbox/big.mp4", body)
    pipeline.local.config.faults.next_upload_resets = 1

    result = pipeline.submitter().submit(ref)

    job = pipeline.jobs.require(result.job_id)
    assert job["sha256"] == hashlib.sha256(body).hexdigest()
    assert detection_requests(pipeline) == ["upload"]
