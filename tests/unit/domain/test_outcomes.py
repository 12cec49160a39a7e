"""Every job ends with one outcome of a closed set, decided by what it recorded."""

from __future__ import annotations

from typing import Any

import pytest

from antipiracy.domain.jobs import JobState
from antipiracy.domain.outcomes import DESCRIPTIONS, JobOutcome, outcome_of
from antipiracy.domain.reports import build_report, result_attributes, result_message

JOB = {"job_id": "job-1", "bucket": "inbox-bucket", "key": "inbox/a.mp4"}


@pytest.mark.parametrize(
    ("fields", "state", "outcome"),
    [
        ({"detect_status": "FD004", "watermark_found": True}, JobState.COMPLETED, JobOutcome.WATERMARK_FOUND),
        ({"detect_status": "FD400", "watermark_found": True}, JobState.COMPLETED, JobOutcome.WATERMARK_FOUND),
        ({"detect_status": "FD004", "watermark_found": False}, JobState.COMPLETED, JobOutcome.NO_WATERMARK),
        ({"detect_status": "FD007"}, JobState.COMPLETED, JobOutcome.NOT_DETECTABLE),
        ({"detect_status": "FD006"}, JobState.COMPLETED, JobOutcome.DETECTION_ERROR),
        ({"detect_status": "FD005"}, JobState.COMPLETED, JobOutcome.CANCELED),
        ({}, JobState.TIMED_OUT, JobOutcome.TIMED_OUT),
        ({}, JobState.REJECTED, JobOutcome.REJECTED),
        ({"refused_by_doverunner": True, "error": {"error_code": "A4019"}}, JobState.FAILED, JobOutcome.REFUSED),
        ({"error": {"message": "the report step failed"}}, JobState.FAILED, JobOutcome.PIPELINE_ERROR),
    ],
)
def test_a_job_ends_with_the_outcome_its_record_says(
    fields: dict[str, Any], state: JobState, outcome: JobOutcome
) -> None:
    assert outcome_of({**JOB, **fields}, state) is outcome


def test_every_outcome_is_described() -> None:
    assert set(DESCRIPTIONS) == set(JobOutcome)


def test_the_report_and_the_result_message_carry_the_outcome_also_as_an_attribute() -> None:
    job = {**JOB, "detect_status": "FD007", "error_code": "D002"}

    report = {**build_report(job, JobState.COMPLETED), "report_key": "results/inbox/a.mp4.json"}

    assert (report["outcome"], report["outcome_description"]) == (
        "NOT_DETECTABLE",
        DESCRIPTIONS[JobOutcome.NOT_DETECTABLE],
    )
    assert result_message(job, JobState.COMPLETED, report)["outcome"] == "NOT_DETECTABLE"
    assert result_attributes(JobState.COMPLETED, report)["outcome"] == "NOT_DETECTABLE"
