"""The end of a job: its report next to the input, its final state, and the result published."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fakes import MemoryJobs, MemoryObjects, MemoryResultsTopic

from antipiracy.domain.jobs import JobState
from antipiracy.services.report import Reports, finish, finish_after_failure
from doverunner import describe_error

REPORT_KEY = "results/inbox/movie.mp4.versions/v0001.json"  # the version's own report (tracked_job's version)
CURRENT_KEY = "results/inbox/movie.mp4.json"  # the key's current report
BUCKET = "inbox-bucket"


def catch(message: str, error_type: str = "DoveRunnerApiError") -> dict[str, Any]:
    """A Step Functions Catch's error for a Lambda that raised."""
    return {"Error": error_type, "Cause": json.dumps({"errorMessage": message, "errorType": error_type})}


@pytest.fixture
def end(jobs: MemoryJobs, reports: Reports, results: MemoryResultsTopic) -> Callable[..., dict[str, Any]]:
    def run(job_id: str, outcome: str, **options: Any) -> dict[str, Any]:
        return finish(job_id, outcome, jobs=jobs, reports=reports, results=results, **options)

    return run


@pytest.fixture
def end_after_failure(jobs: MemoryJobs, reports: Reports) -> Callable[..., dict[str, Any]]:
    def run(job_id: str, error: dict[str, Any], results: MemoryResultsTopic | None = None) -> dict[str, Any]:
        return finish_after_failure(job_id, error, jobs=jobs, reports=reports, results=results)

    return run


def report_of(objects: MemoryObjects, jobs: MemoryJobs, job_id: str) -> Any:
    return objects.document(jobs.require(job_id)["bucket"], REPORT_KEY)


# ---- finish -----------------------------------------------------------------------------------------------------


def test_finish_writes_the_versions_report_and_the_current_one_next_to_the_input(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001, detect_status="FD004", watermark_found=True, wm_key="0001", wm_data="d")

    end(job_id, "terminal")

    report = report_of(objects, jobs, job_id)
    assert (report["state"], report["detection_id"], report["report_key"]) == ("COMPLETED", 1001, REPORT_KEY)
    assert report["forensic_mark"] == {"wm_key": "0001", "wm_data": "d"}
    assert report["input"]["key"] == "inbox/movie.mp4"
    assert objects.document(BUCKET, CURRENT_KEY) == {**report, "current": True}


def test_finish_records_the_final_state_and_where_the_report_is(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)

    end(job_id, "terminal")

    job = jobs.require(job_id)
    assert (job["state"], job["report_key"]) == ("COMPLETED", REPORT_KEY)
    assert job["finished_at"]


@pytest.mark.parametrize(("found", "attribute"), [(True, "true"), (False, "false")])
def test_finish_publishes_the_result_with_attributes_for_filters(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    results: MemoryResultsTopic,
    found: bool,
    attribute: str,
) -> None:
    job_id = tracked_job(
        detection_id=1001, detect_status="FD004", watermark_found=found, wm_key="0001" if found else ""
    )

    summary = end(job_id, "terminal")

    ((message, attributes),) = results.published
    outcome = "WATERMARK_FOUND" if found else "NO_WATERMARK"
    assert attributes == {"state": "COMPLETED", "outcome": outcome, "watermark_found": attribute}
    assert message == summary
    assert (message["type"], message["report"]) == (
        "doverunner.detection.finished",
        {"bucket": "inbox-bucket", "key": REPORT_KEY},
    )
    assert message["current_report"] == {"bucket": "inbox-bucket", "key": CURRENT_KEY}


def test_timeout_ends_timed_out_with_its_reason(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)

    end(job_id, "timed_out", reason="no terminal status after 3600s of tracking")

    job = jobs.require(job_id)
    assert (job["state"], job["reason"]) == ("TIMED_OUT", "no terminal status after 3600s of tracking")
    assert report_of(objects, jobs, job_id)["reason"] == "no terminal status after 3600s of tracking"


def test_error_with_a_doverunner_code_is_reported_with_the_guides_description(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)
    error = catch("DoveRunner detection detail failed: A4009 Cannot find detect information [HTTP 200]")

    end(job_id, "error", error=error)

    report = report_of(objects, jobs, job_id)
    assert report["state"] == "FAILED"
    assert (report["error"]["error_code"], report["error"]["description"]) == (
        "A4009",
        describe_error("A4009").description,
    )
    assert report["reason"].startswith("tracking failed: DoveRunner detection detail failed: A4009")
    assert jobs.require(job_id)["error"]["error_code"] == "A4009"


def test_error_of_a_job_that_has_one_keeps_the_first(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001, error={"error_code": "D002", "error_message": "too short"})

    end(job_id, "error", error=catch("Lambda timed out", "States.Timeout"))

    assert jobs.require(job_id)["error"] == {"error_code": "D002", "error_message": "too short"}


def test_finish_without_a_results_topic_publishes_nothing_and_still_finishes(
    tracked_job: Callable[..., str], jobs: MemoryJobs, reports: Reports
) -> None:
    job_id = tracked_job(detection_id=1001)

    summary = finish(job_id, "terminal", jobs=jobs, reports=reports, results=None)

    assert (summary["state"], jobs.require(job_id)["state"]) == ("COMPLETED", "COMPLETED")


def test_finishing_a_finished_job_again_keeps_its_final_state(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)
    end(job_id, "terminal")

    end(job_id, "timed_out", reason="a late repeat")

    assert jobs.require(job_id)["state"] == "COMPLETED"


# ---- finish_after_failure ---------------------------------------------------------------------------------------


def test_failed_report_step_leaves_a_report_built_from_the_submitted_fields_only(
    tracked_job: Callable[..., str],
    end_after_failure: Callable[..., dict[str, Any]],
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    # Given a job whose later fields (history, a forensic mark) may be what broke the report step
    job_id = tracked_job(
        detection_id=1001,
        watermark_found=True,
        wm_key="0001",
        history=[{"detect_status": "FD004"}],
        revocation={"state": "BLOCKED"},
    )

    end_after_failure(job_id, catch("Unable to serialise the report", "TypeError"))

    report = report_of(objects, jobs, job_id)
    assert report["state"] == "FAILED"
    assert (report["history"], report["watermark_found"], report["revocation"]) == ([], False, None)
    assert (report["detection_id"], report["doverunner_title"]) == (1001, jobs.require(job_id)["dr_title"])
    assert report["error"]["message"] == "Unable to serialise the report"


def test_failed_report_step_fails_the_job_with_the_failure_recorded(
    tracked_job: Callable[..., str], end_after_failure: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)

    end_after_failure(job_id, catch("boom", "RuntimeError"))

    job = jobs.require(job_id)
    assert (job["state"], job["reason"]) == ("FAILED", "the report step failed: boom")
    assert (job["report_error"]["message"], job["report_key"]) == ("boom", REPORT_KEY)


def test_failure_after_the_report_was_written_keeps_the_report_and_state(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    end_after_failure: Callable[..., dict[str, Any]],
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    job_id = tracked_job(detection_id=1001, watermark_found=True, wm_key="0001")
    end(job_id, "terminal")
    written = report_of(objects, jobs, job_id)

    end_after_failure(job_id, catch("SNS publish throttled", "ThrottlingException"))

    job = jobs.require(job_id)
    assert (job["state"], job["report_key"]) == ("COMPLETED", REPORT_KEY)
    assert job["report_error"]["message"] == "SNS publish throttled"
    assert report_of(objects, jobs, job_id) == written


def test_result_is_published_again_after_a_failure(
    tracked_job: Callable[..., str], end_after_failure: Callable[..., dict[str, Any]], results: MemoryResultsTopic
) -> None:
    job_id = tracked_job(detection_id=1001)

    end_after_failure(job_id, catch("boom", "RuntimeError"), results)

    ((message, attributes),) = results.published
    assert (message["state"], attributes["state"]) == ("FAILED", "FAILED")


def test_publishing_that_fails_after_a_failure_still_answers_where_the_report_is(
    tracked_job: Callable[..., str], end_after_failure: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)
    refusing = MemoryResultsTopic(fail_with=RuntimeError("SNS is down"))

    summary = end_after_failure(job_id, catch("boom", "RuntimeError"), refusing)

    assert summary == {"job_id": job_id, "state": "FAILED", "report": {"bucket": "inbox-bucket", "key": REPORT_KEY}}
    assert jobs.require(job_id)["state"] == "FAILED"


def test_failure_without_a_cause_is_reported_as_unknown(
    tracked_job: Callable[..., str], end_after_failure: Callable[..., dict[str, Any]], jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001)

    end_after_failure(job_id, {})

    assert jobs.require(job_id)["reason"] == "the report step failed: unknown"


# ---- the report written again -----------------------------------------------------------------------------------


def test_rewrite_writes_a_finished_jobs_report_with_what_was_added(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    reports: Reports,
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    job_id = tracked_job(detection_id=1001)
    end(job_id, "timed_out", reason="no terminal status")
    job = jobs.update(job_id, {"revocation": {"token": "abc", "state": "BLOCKED"}})

    reports.rewrite(job)

    report = report_of(objects, jobs, job_id)
    assert (report["state"], report["reason"]) == (JobState.TIMED_OUT.value, "no terminal status")
    assert report["revocation"] == {"token": "abc", "state": "BLOCKED"}


# ---- one report per object version, the current one the newest's ------------------------------------------------


def version_job(tracked_job: Callable[..., str], version: str, sequencer: str, **fields: Any) -> str:
    """A tracked job of inbox/movie.mp4's version `version`, whose S3 event had `sequencer`."""
    return tracked_job(detection_id=int(version.removeprefix("v")), version_id=version, sequencer=sequencer, **fields)


def test_a_second_versions_report_does_not_replace_the_firsts(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects
) -> None:
    first = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    second = version_job(tracked_job, "v0002", "0055B1A8F0E1D2C302")

    end(first, "terminal")
    end(second, "terminal")

    kept = objects.document(BUCKET, "results/inbox/movie.mp4.versions/v0001.json")
    assert (kept["job_id"], kept["input"]["version_id"]) == (first, "v0001")


def test_the_newer_versions_report_becomes_the_current_one(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects
) -> None:
    first = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    second = version_job(tracked_job, "v0002", "0055B1A8F0E1D2C302")

    end(first, "terminal")
    end(second, "terminal")

    current = objects.document(BUCKET, CURRENT_KEY)
    assert (current["job_id"], current["current"]) == (second, True)
    assert current["report_key"] == "results/inbox/movie.mp4.versions/v0002.json"


def test_an_older_job_finishing_after_a_newer_one_leaves_the_current_report_the_newers(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    older = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    newer = version_job(tracked_job, "v0002", "0055B1A8F0E1D2C302")

    end(newer, "terminal")
    end(older, "terminal")

    assert objects.document(BUCKET, CURRENT_KEY)["job_id"] == newer
    own = objects.document(BUCKET, "results/inbox/movie.mp4.versions/v0001.json")
    assert (own["job_id"], own["current"], jobs.require(older)["state"]) == (older, False, "COMPLETED")


def test_every_versions_report_is_kept_at_its_own_address(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects
) -> None:
    ids = [version_job(tracked_job, f"v000{n}", f"0055B1A8F0E1D2C30{n}") for n in (1, 2, 3)]

    for job_id in reversed(ids):
        end(job_id, "terminal")

    kept = [objects.document(BUCKET, f"results/inbox/movie.mp4.versions/v000{n}.json")["job_id"] for n in (1, 2, 3)]
    assert kept == ids


def test_sequencers_of_different_lengths_are_compared_as_padded_hex(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects
) -> None:
    shorter_but_later = version_job(tracked_job, "v0002", "FF")
    longer_but_earlier = version_job(tracked_job, "v0001", "00000000A0")

    end(shorter_but_later, "terminal")
    end(longer_but_earlier, "terminal")

    assert objects.document(BUCKET, CURRENT_KEY)["job_id"] == shorter_but_later


def test_a_rewrite_of_an_older_jobs_report_leaves_the_current_one_alone(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    reports: Reports,
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    older = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    newer = version_job(tracked_job, "v0002", "0055B1A8F0E1D2C302")
    end(older, "terminal")
    end(newer, "terminal")

    reports.rewrite({**jobs.require(older), "revocation": {"state": "BLOCKED"}})

    assert objects.document(BUCKET, CURRENT_KEY)["job_id"] == newer
    rewritten = objects.document(BUCKET, "results/inbox/movie.mp4.versions/v0001.json")
    assert rewritten["revocation"] == {"state": "BLOCKED"}


def test_a_rewrite_of_the_newest_jobs_report_updates_the_current_one(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    reports: Reports,
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    newest = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    end(newest, "terminal")

    reports.rewrite({**jobs.require(newest), "revocation": {"state": "BLOCKED"}})

    assert objects.document(BUCKET, CURRENT_KEY)["revocation"] == {"state": "BLOCKED"}


def test_a_newer_report_written_in_between_wins_over_an_older_writer(
    tracked_job: Callable[..., str],
    end: Callable[..., dict[str, Any]],
    reports: Reports,
    objects: MemoryObjects,
    jobs: MemoryJobs,
) -> None:
    older = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")
    newer = version_job(tracked_job, "v0002", "0055B1A8F0E1D2C302")
    # The newer job's report lands between the older writer's read of the current report and its write.
    objects.before_conditional_put = lambda: reports.write(jobs.require(newer), JobState.COMPLETED)

    report = end(older, "terminal")

    assert objects.document(BUCKET, CURRENT_KEY)["job_id"] == newer
    assert report["report"]["key"] == "results/inbox/movie.mp4.versions/v0001.json"


def test_a_version_without_a_plain_version_id_is_named_by_its_job_id(
    tracked_job: Callable[..., str], end: Callable[..., dict[str, Any]], objects: MemoryObjects, jobs: MemoryJobs
) -> None:
    job_id = tracked_job(detection_id=1001, version_id="null")

    end(job_id, "terminal")

    assert jobs.require(job_id)["report_key"] == f"results/inbox/movie.mp4.versions/{job_id}.json"
    assert objects.document(BUCKET, f"results/inbox/movie.mp4.versions/{job_id}.json")["job_id"] == job_id


class NoListBucketObjects(MemoryObjects):
    """S3 as a role without s3:ListBucket sees it: reading a key that does not exist is refused (403), not 404."""

    def get_json(self, bucket: str, key: str) -> tuple[Any, str] | None:
        if self._latest(bucket, key) is None:
            raise PermissionError(f"403 AccessDenied reading {key}")
        return super().get_json(bucket, key)


def test_a_keys_first_report_is_written_without_reading_the_missing_current_one(
    tracked_job: Callable[..., str], jobs: MemoryJobs
) -> None:
    # Given S3 that refuses reads of missing keys, as it does for the functions' roles
    objects = NoListBucketObjects()
    job_id = version_job(tracked_job, "v0001", "0055B1A8F0E1D2C301")

    # When the key's first report is written
    report = Reports(objects, "results/").write(jobs.require(job_id), JobState.COMPLETED)

    # Then it became the current report, read from nowhere
    assert report["current"] is True
    assert objects.document(BUCKET, "results/inbox/movie.mp4.json")["job_id"] == job_id
