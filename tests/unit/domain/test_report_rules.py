"""A job's report and result message, built from the job alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from antipiracy.domain.jobs import JobState
from antipiracy.domain.reports import build_report, pipeline_error, report_key, result_attributes, result_message
from doverunner import describe_error

JOB: dict[str, Any] = {
    "job_id": "job-1",
    "bucket": "inbox-bucket",
    "key": "inbox/movie.mp4",
    "version_id": "v1",
    "size": 2048,
    "title": "movie",
    "dr_title": "movie #0123456789abcdef",
    "service": "PD002",
    "method": "upload",
    "detection_id": 1001,
    "created_at": "2026-11-24T12:00:00.000000Z",
    "submitted_at": "2026-11-24T12:00:01.000000Z",
}


def caught(message: str) -> dict[str, Any]:
    return {"Error": "Exception", "Cause": json.dumps({"errorMessage": message})}


def test_report_key_sits_next_to_the_input_under_the_results_prefix() -> None:
    assert report_key("results/", "inbox/dwm/a b.mp4") == "results/inbox/dwm/a b.mp4.json"


def test_report_names_the_input_and_the_detection() -> None:
    report = build_report(JOB, JobState.COMPLETED)

    assert (report["state"], report["detection_id"], report["doverunner_title"]) == (
        "COMPLETED",
        1001,
        "movie #0123456789abcdef",
    )
    assert report["input"] == {
        "bucket": "inbox-bucket",
        "key": "inbox/movie.mp4",
        "version_id": "v1",
        "size": 2048,
        "etag": None,
        "sha256": None,
        "sequencer": None,
    }


def test_forensic_mark_is_reported_only_when_the_watermark_was_found() -> None:
    found = build_report({**JOB, "watermark_found": True, "wm_key": "k", "wm_data": "d"}, JobState.COMPLETED)
    not_found = build_report({**JOB, "watermark_found": False, "wm_key": "k"}, JobState.COMPLETED)

    assert found["forensic_mark"] == {"wm_key": "k", "wm_data": "d"}
    assert (not_found["forensic_mark"], not_found["watermark_found"]) == (None, False)


def test_reason_given_wins_over_the_jobs_reason() -> None:
    assert build_report({**JOB, "reason": "old"}, JobState.FAILED, "new")["reason"] == "new"
    assert build_report({**JOB, "reason": "old"}, JobState.FAILED)["reason"] == "old"


def test_report_of_a_job_never_checked_has_no_history_and_no_checks() -> None:
    report = build_report(JOB, JobState.TIMED_OUT)

    assert (report["history"], report["times"]["checks"], report["times"]["received_at"]) == (
        [],
        0,
        "2026-11-24T12:00:00.000000Z",
    )


def test_no_error_gives_no_pipeline_error() -> None:
    assert pipeline_error(None) is None
    assert pipeline_error({}) is None


def test_error_naming_an_api_code_carries_the_guides_explanation() -> None:
    error = pipeline_error(caught("DoveRunner detect by URL failed: A4019 Exceed to detection count [HTTP 200]"))

    info = describe_error("A4019")
    assert error is not None
    assert (error["error_code"], error["description"], error["solution"]) == (
        "A4019",
        info.description,
        info.solution,
    )


def test_error_naming_a_detection_failure_code_carries_its_explanation() -> None:
    error = pipeline_error(caught("detection ended in error: D002 too short"))

    assert error is not None
    assert (error["error_code"], error["description"]) == ("D002", describe_error("D002").description)


def test_error_naming_a_code_in_parentheses_carries_its_explanation() -> None:
    error = pipeline_error(caught("the detection request was refused (A4019)"))

    assert error is not None
    assert error["error_code"] == "A4019"


def test_error_whose_cause_is_not_json_keeps_the_cause_as_its_message() -> None:
    error = pipeline_error({"Error": "States.Timeout", "Cause": "the task timed out"})

    assert error == {"error_type": "States.Timeout", "message": "the task timed out"}


@pytest.mark.parametrize("message", ["A40190 is no code", "X4019 is no code", "A401 is no code", "AB019 is no code"])
def test_words_that_only_look_like_codes_are_not_taken_for_one(message: str) -> None:
    error = pipeline_error(caught(message))

    assert error is not None
    assert "error_code" not in error


def test_result_message_says_where_the_report_is_and_the_error_code() -> None:
    report = {
        **build_report(JOB, JobState.FAILED),
        "report_key": "results/inbox/movie.mp4.versions/v1.json",
        "current_report_key": "results/inbox/movie.mp4.json",
        "error": {"error_code": "A4019"},
    }

    message = result_message(JOB, JobState.FAILED, report)

    assert (message["type"], message["state"], message["error_code"]) == (
        "doverunner.detection.finished",
        "FAILED",
        "A4019",
    )
    assert message["report"] == {"bucket": "inbox-bucket", "key": "results/inbox/movie.mp4.versions/v1.json"}
    assert message["current_report"] == {"bucket": "inbox-bucket", "key": "results/inbox/movie.mp4.json"}


def test_result_message_of_a_job_without_error_has_no_error_code() -> None:
    report = {**build_report(JOB, JobState.COMPLETED), "report_key": "results/inbox/movie.mp4.json"}

    assert result_message(JOB, JobState.COMPLETED, report)["error_code"] is None


@pytest.mark.parametrize(("found", "text"), [(True, "true"), (False, "false")])
def test_result_attributes_are_text_for_filter_policies(found: bool, text: str) -> None:
    report = {"watermark_found": found, "outcome": "WATERMARK_FOUND" if found else "NO_WATERMARK"}

    assert result_attributes(JobState.COMPLETED, report) == {
        "state": "COMPLETED",
        "outcome": report["outcome"],
        "watermark_found": text,
    }
