"""Submitting a dropped video: one detection per object version, whatever S3, SQS and DoveRunner do."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs, MemoryObjects, api_error

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import JobState, dr_title, job_id_for, now_iso
from antipiracy.domain.requests import ResubmitRequest, S3ObjectRef
from antipiracy.services.submit import RetryLater, Submitter
from doverunner import ConfigurationError, TransportError, describe_error

VIDEO = bytes(range(256)) * 4  # 1 KiB: an upload under the fixture's URL threshold
LARGE_VIDEO = VIDEO * 2  # 2 KiB: over it
BUCKET = "inbox-bucket"


def drop(objects: MemoryObjects, key: str = "inbox/movie.mp4", body: bytes = VIDEO, **metadata: str) -> S3ObjectRef:
    return objects.add(BUCKET, key, body, metadata=metadata)


def job_of(jobs: MemoryJobs, ref: S3ObjectRef) -> dict[str, Any]:
    return jobs.require(job_id_for(ref.bucket, ref.key, ref.version))


def interrupted(submitter: Submitter, ref: S3ObjectRef) -> None:
    """A delivery whose DoveRunner request may have been processed before the connection failed."""
    with pytest.raises(RetryLater):
        submitter.submit(ref)


# ---- a new object ---------------------------------------------------------------------------------------------


def test_new_object_is_uploaded_under_its_job_title_and_tracked(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)

    result = submitter.submit(ref)

    job = jobs.require(result.job_id)
    assert (result.action, result.state) == ("submitted", "TRACKING")
    assert (job["state"], job["method"], job["upload_confirmed"], job["uploads"]) == ("TRACKING", "upload", True, 1)
    assert len(doverunner.titled(dr_title("movie.mp4", result.job_id))) == 1
    assert len(doverunner.requests) == 1


def test_new_object_starts_one_execution_named_after_its_job(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    result = submitter.submit(drop(objects))

    assert executions.started == {
        result.job_id: {"job_id": result.job_id, "check": {"attempt": 0, "detection_id": None}}
    }
    assert jobs.require(result.job_id)["execution_arn"] == executions.arn_of(result.job_id)


def test_upload_records_the_checksum_of_the_bytes_sent(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    result = submitter.submit(drop(objects))

    assert jobs.require(result.job_id)["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    assert doverunner.requests[0]["sha256"] == hashlib.sha256(VIDEO).hexdigest()


def test_upload_keeps_the_job_title_as_is_so_tracking_finds_it(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    result = submitter.submit(drop(objects))

    assert (doverunner.requests[0]["make_unique"], doverunner.requests[0]["find"]) == (False, False)
    assert doverunner.requests[0]["title"] == dr_title("movie.mp4", result.job_id)


def test_title_comes_from_the_percent_encoded_metadata(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    result = submitter.submit(drop(objects, title="%ED%95%B4%EC%A0%81%ED%8C%90%20EP1"))

    assert jobs.require(result.job_id)["title"] == "해적판 EP1"


def test_service_comes_from_the_folder_under_the_inbox(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    result = submitter.submit(drop(objects, "inbox/dwm/movie.mp4"))

    assert jobs.require(result.job_id)["service"] == "PD006"


def test_object_over_the_threshold_is_sent_as_a_presigned_url_of_its_version(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner, config: PipelineConfig
) -> None:
    ref = drop(objects, body=LARGE_VIDEO)

    submitter.submit(ref)

    assert objects.presigned == [(BUCKET, ref.key, ref.version_id, config.presigned_url_seconds)]
    (request,) = doverunner.requests
    assert request["operation"] == "url"
    assert f"versionId={ref.version_id}" in request["file_path"]


def test_url_detection_records_its_detection_id_at_once(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    result = submitter.submit(drop(objects, body=LARGE_VIDEO))

    (detection_id,) = doverunner.titled(jobs.require(result.job_id)["dr_title"])
    assert jobs.require(result.job_id)["detection_id"] == detection_id


# ---- repeated deliveries ----------------------------------------------------------------------------------------


def test_repeated_delivery_sends_nothing_again(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner, executions: MemoryExecutions
) -> None:
    ref = drop(objects)
    first = submitter.submit(ref)

    again = [submitter.submit(ref) for _ in range(2)]

    assert [r.action for r in again] == ["duplicate", "duplicate"]
    assert {r.job_id for r in again} == {first.job_id}
    assert len(doverunner.requests) == 1
    assert executions.start_calls == [first.job_id]


def test_repeated_delivery_of_a_job_stopped_before_tracking_starts_its_execution(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, executions: MemoryExecutions
) -> None:
    # Given a delivery that died after DoveRunner took the file and the job was SUBMITTED, before tracking started
    ref = drop(objects)
    job_id = submitter.submit(ref).job_id
    jobs.update(job_id, {"state": JobState.SUBMITTED.value})
    executions.started.clear()

    result = submitter.submit(ref)

    assert result.action == "duplicate"
    assert list(executions.started) == [job_id]
    assert jobs.require(job_id)["state"] == "TRACKING"


def test_new_version_of_the_same_key_is_a_new_job(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    first = submitter.submit(drop(objects))
    second = submitter.submit(drop(objects, body=VIDEO[::-1]))

    assert first.job_id != second.job_id
    assert (second.action, len(doverunner.requests)) == ("submitted", 2)


# ---- refused before any DoveRunner call -------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "shown"), [("inbox/movie.avi", ".avi"), ("inbox/movie", "no extension")])
def test_unsupported_file_is_rejected_with_a_report_and_no_doverunner_call(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner, key: str, shown: str
) -> None:
    result = submitter.submit(drop(objects, key))

    job = jobs.require(result.job_id)
    report = objects.document(BUCKET, f"results/{key}.json")
    assert (result.action, job["state"], report["state"]) == ("rejected", "REJECTED", "REJECTED")
    assert f"unsupported file type ({shown})" in report["reason"]
    assert job["report_key"] == f"results/{key}.versions/{job['version_id']}.json"
    assert objects.document(BUCKET, job["report_key"]) == report
    assert doverunner.requests == []


def test_empty_object_is_rejected_with_a_report_and_no_doverunner_call(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    submitter.submit(drop(objects, body=b""))

    report = objects.document(BUCKET, "results/inbox/movie.mp4.json")
    assert (report["state"], report["reason"]) == (
        "REJECTED",
        "the object is empty (0 bytes): there is no video to detect",
    )
    assert doverunner.requests == []


BAD_KEYS = {
    "a '..' segment": ("inbox/../etc/movie.mp4", "'..' path segment"),
    "a '.' segment": ("inbox/./movie.mp4", "'.' path segment"),
    "a leading '..' segment": ("inbox/../../movie.mp4", "'..' path segment"),
    "a newline": ("inbox/mo\nvie.mp4", "control characters (0x0a)"),
    "a NUL": ("inbox/mo\x00vie.mp4", "control characters (0x00)"),
    "a DEL": ("inbox/mo\x7fvie.mp4", "control characters (0x7f)"),
    "a key too long for its report": ("inbox/" + "a" * 930 + ".mp4", "too long for its report key"),
    "a multibyte key too long in UTF-8": ("inbox/" + "가" * 310 + ".mp4", "too long for its report key"),
}


@pytest.mark.parametrize(("key", "said"), list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_key_that_cannot_name_a_report_is_rejected_without_a_doverunner_call(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner, key: str, said: str
) -> None:
    result = submitter.submit(drop(objects, key))

    job = jobs.require(result.job_id)
    assert (result.action, job["state"]) == ("rejected", "REJECTED")
    assert said in job["reason"]
    assert doverunner.requests == []


def test_key_that_cannot_name_a_report_gets_its_report_under_the_rejected_folder(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    result = submitter.submit(drop(objects, "inbox/../movie.mp4"))

    job = jobs.require(result.job_id)
    report = objects.document(BUCKET, f"results/rejected/{result.job_id}.json")
    assert (job["report_key"], report["state"], report["input"]["key"]) == (
        f"results/rejected/{result.job_id}.json",
        "REJECTED",
        "inbox/../movie.mp4",
    )
    assert [key for _, key in objects.documents] == [f"results/rejected/{result.job_id}.json"]


def test_the_longest_key_whose_reports_fit_is_submitted(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    # results/ + key + .versions/<64-character version name>.json is exactly S3's 1024 bytes.
    key = "inbox/" + "a" * (1024 - len("results/") - len(".versions/") - 64 - len(".json") - len("inbox/.mp4")) + ".mp4"

    result = submitter.submit(drop(objects, key))

    assert result.action == "submitted"


def test_second_drop_of_a_key_keeps_the_first_versions_report_and_makes_the_second_current(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    first = submitter.submit(drop(objects, "inbox/movie.avi"))
    second = submitter.submit(drop(objects, "inbox/movie.avi"))

    first_report = objects.document(BUCKET, jobs.require(first.job_id)["report_key"])
    current = objects.document(BUCKET, "results/inbox/movie.avi.json")
    assert (first_report["job_id"], current["job_id"]) == (first.job_id, second.job_id)


def test_the_job_records_its_sequencer_and_its_reports_address(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    ref = drop(objects)

    job = jobs.require(submitter.submit(ref).job_id)

    assert (job["sequencer"], job["version_report_key"]) == (
        ref.sequencer,
        f"results/inbox/movie.mp4.versions/{ref.version_id}.json",
    )


def test_object_outside_the_inbox_is_rejected_without_a_report_or_doverunner_call(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    result = submitter.submit(drop(objects, "elsewhere/movie.mp4"))

    job = jobs.require(result.job_id)
    assert (job["state"], job["reason"]) == ("REJECTED", "the object is outside the inbox prefix 'inbox/'")
    assert (job["report_key"], objects.documents) == ("", {})
    assert doverunner.requests == []


def test_version_deleted_for_good_before_processing_is_rejected_with_a_report(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    objects.delete(BUCKET, ref.key, ref.version_id)

    result = submitter.submit(ref)

    report = objects.document(BUCKET, "results/inbox/movie.mp4.json")
    assert (result.action, jobs.require(result.job_id)["state"]) == ("rejected", "REJECTED")
    assert "no longer exists" in report["reason"]
    assert doverunner.requests == []


def test_object_deleted_after_its_drop_is_still_submitted_from_its_version(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    objects.delete(BUCKET, ref.key)  # a delete marker: the version stays

    result = submitter.submit(ref)

    assert result.action == "submitted"
    assert objects.opened == [(BUCKET, ref.key, ref.version_id)]
    assert doverunner.requests[0]["sha256"] == hashlib.sha256(VIDEO).hexdigest()


# ---- DoveRunner's answers ---------------------------------------------------------------------------------------


def test_retryable_api_error_asks_for_the_message_again_and_releases_the_job(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    doverunner.fail_next(api_error("A4026", "request upload URL"))

    with pytest.raises(RetryLater, match="A4026"):
        submitter.submit(ref)

    job = job_of(jobs, ref)
    assert job["state"] == "RECEIVED"
    assert "A4026" in str(job["last_error"])


def test_released_job_is_sent_by_the_next_delivery(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    doverunner.fail_next(api_error("A4026", "request upload URL"))
    with pytest.raises(RetryLater):
        submitter.submit(ref)

    result = submitter.submit(ref)

    assert result.action == "submitted"
    assert len(doverunner.requests) == 2


def test_refusal_fails_the_job_with_the_guides_explanation(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    doverunner.fail_next(api_error("A4023", "request upload URL"))

    result = submitter.submit(ref)

    job = job_of(jobs, ref)
    error = job["error"]
    assert (result.action, job["state"]) == ("failed", "FAILED")
    assert (error["error_code"], error["description"]) == ("A4023", describe_error("A4023").description)
    assert "A4023" in str(job["reason"])


def test_refusal_writes_a_report_whose_outcome_is_refused_with_the_code(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    doverunner.fail_next(api_error("A4023", "request upload URL"))

    submitter.submit(ref)

    job = job_of(jobs, ref)
    report = objects.document(ref.bucket, job["report_key"])
    assert (report["state"], report["outcome"], report["error"]["error_code"]) == ("FAILED", "REFUSED", "A4023")


def test_refused_job_starts_no_execution(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner, executions: MemoryExecutions
) -> None:
    doverunner.fail_next(api_error("A4023", "request upload URL"))

    submitter.submit(drop(objects))

    assert executions.start_calls == []


def test_transport_error_that_may_have_been_processed_keeps_the_job_submitting(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects, body=LARGE_VIDEO)
    doverunner.fail_next(TransportError("connection reset after sending", maybe_processed=True))

    interrupted(submitter, ref)

    job = job_of(jobs, ref)
    assert job["state"] == "SUBMITTING"
    assert job["last_error"] == "connection reset after sending"


def test_transport_error_before_doverunner_had_it_releases_the_job(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects, body=LARGE_VIDEO)
    doverunner.fail_next(TransportError("connection refused", maybe_processed=False))

    interrupted(submitter, ref)

    assert job_of(jobs, ref)["state"] == "RECEIVED"


def test_missing_credentials_hold_the_job_with_the_reason_and_pause_submissions(
    make_submitter: Callable[..., Submitter], objects: MemoryObjects, jobs: MemoryJobs, config: PipelineConfig
) -> None:
    def no_client() -> FakeDoveRunner:
        raise ConfigurationError("the DoveRunner secret has no site_key")

    submitter = Submitter(
        objects=objects, jobs=jobs, executions=MemoryExecutions(), client_factory=no_client, config=config
    )
    ref = drop(objects)

    result = submitter.submit(ref)

    job = job_of(jobs, ref)
    assert (result.action, job["state"], job["reason"]) == ("held", "HELD", "the DoveRunner secret has no site_key")
    assert (jobs.pause or {}).get("kind") == "credentials"


# ---- a delivery that died mid-way -------------------------------------------------------------------------------


def test_interrupted_submission_adopts_the_detection_found_by_title(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    # Given a URL detection DoveRunner registered before the connection failed
    ref = drop(objects, body=LARGE_VIDEO)
    doverunner.fail_next(TransportError("read timed out", maybe_processed=True), registered=True)
    interrupted(submitter, ref)

    # When the message comes back
    result = submitter.submit(ref)

    # Then that detection is tracked, and nothing was sent again
    (detection_id,) = doverunner.titled(str(job_of(jobs, ref)["dr_title"]))
    assert (result.action, result.detail) == ("adopted", str(detection_id))
    assert (job_of(jobs, ref)["state"], job_of(jobs, ref)["detection_id"]) == ("TRACKING", detection_id)
    assert len(doverunner.requests) == 1


def test_interrupted_url_submission_that_left_no_detection_is_sent(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects, body=LARGE_VIDEO)
    doverunner.fail_next(TransportError("read timed out", maybe_processed=True))
    interrupted(submitter, ref)

    result = submitter.submit(ref)

    assert result.action == "submitted"
    assert len(doverunner.requests) == 2


def test_interrupted_upload_begun_recently_is_tracked_unconfirmed_not_sent_again(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    ref = drop(objects)
    doverunner.fail_next(TransportError("reset after the last byte", maybe_processed=True))
    interrupted(submitter, ref)

    result = submitter.submit(ref)

    job = job_of(jobs, ref)
    assert result.action == "submitted"
    assert (job["state"], job["upload_confirmed"], job["uploads"]) == ("TRACKING", False, 1)
    assert len(doverunner.requests) == 1


def test_interrupted_upload_begun_long_ago_is_uploaded_again(
    make_submitter: Callable[..., Submitter], objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    # Given an upload interrupted longer ago than an upload takes to register
    ref = drop(objects)
    doverunner.fail_next(TransportError("reset after the last byte", maybe_processed=True))
    interrupted(make_submitter(), ref)

    result = make_submitter(find_upload_seconds=0).submit(ref)

    assert (result.action, job_of(jobs, ref)["upload_confirmed"]) == ("submitted", True)
    assert len(doverunner.requests) == 2


# ---- an upload whose answer never came ---------------------------------------------------------------------------


def test_unconfirmed_upload_is_tracked_with_upload_confirmed_false(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    doverunner.unconfirmed_uploads = 1

    result = submitter.submit(drop(objects))

    job = jobs.require(result.job_id)
    assert (result.action, job["state"], job["upload_confirmed"], job["uploads"]) == ("submitted", "TRACKING", False, 1)


def test_resubmit_request_delivered_three_times_uploads_once(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    doverunner.unconfirmed_uploads = 1
    job_id = submitter.submit(drop(objects)).job_id

    actions = [submitter.resubmit(ResubmitRequest(job_id, 1)).action for _ in range(3)]

    job = jobs.require(job_id)
    assert actions == ["submitted", "duplicate", "duplicate"]
    assert (job["uploads"], job["upload_confirmed"], job["state"]) == (2, True, "TRACKING")
    assert len(doverunner.requests) == 2


def test_resubmit_request_made_after_an_older_upload_uploads_nothing(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    doverunner.unconfirmed_uploads = 2
    job_id = submitter.submit(drop(objects)).job_id
    submitter.resubmit(ResubmitRequest(job_id, 1))

    result = submitter.resubmit(ResubmitRequest(job_id, 1))

    assert (result.action, result.detail) == ("duplicate", "already uploaded again")
    assert len(doverunner.requests) == 2


def test_upload_made_again_wakes_the_waiting_execution(
    submitter: Submitter,
    objects: MemoryObjects,
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    executions: MemoryExecutions,
) -> None:
    doverunner.unconfirmed_uploads = 1
    job_id = submitter.submit(drop(objects)).job_id
    jobs.keep_wake_token(job_id, "token-of-the-wait", 3)

    submitter.resubmit(ResubmitRequest(job_id, 1))

    assert executions.woken == [("token-of-the-wait", job_id)]


def test_resubmit_request_for_a_job_with_its_detection_uploads_nothing(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    job_id = submitter.submit(drop(objects, body=LARGE_VIDEO)).job_id

    result = submitter.resubmit(ResubmitRequest(job_id, 0))

    assert result.action == "duplicate"
    assert len(doverunner.requests) == 1


def test_resubmit_request_for_an_unknown_job_is_an_error(submitter: Submitter) -> None:
    with pytest.raises(ValueError, match="unknown job job-404"):
        submitter.resubmit(ResubmitRequest("job-404", 1))


def test_resubmit_refused_by_doverunner_fails_the_job(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    doverunner.unconfirmed_uploads = 1
    job_id = submitter.submit(drop(objects)).job_id
    doverunner.fail_next(api_error("A4019", "request upload URL"))

    result = submitter.resubmit(ResubmitRequest(job_id, 1))

    assert (result.action, jobs.require(job_id)["state"]) == ("failed", "FAILED")


# ---- what real DynamoDB refuses ---------------------------------------------------------------------------------


def test_upload_leaves_the_detection_id_unset_until_tracking_finds_it(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    # A NULL detection_id would be refused by DynamoDB: it is the key of the by-detection-id index.
    result = submitter.submit(drop(objects))

    assert result.action == "submitted"
    assert "detection_id" not in jobs.require(result.job_id)


def test_job_submitted_just_now_records_when_it_was_submitted(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    before = now_iso()

    result = submitter.submit(drop(objects))

    job = jobs.require(result.job_id)
    assert before <= str(job["submitting_at"]) <= str(job["submitted_at"]) <= now_iso()
