"""The functions' events parsed into typed values; anything malformed is a ValueError saying what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from antipiracy.domain.requests import ResubmitRequest, S3ObjectRef
from antipiracy.events import check_input, requests_from_message, step_input


def s3_event(key: str, *, event_name: str = "ObjectCreated:Put", version_id: str | None = "v1") -> dict[str, Any]:
    """An S3 event notification as S3 sends it: the key URL-encoded."""
    obj: dict[str, Any] = {"key": key, "size": 10, "eTag": "0123abcd", "sequencer": "0055AED6DCD90281E5"}
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-24T12:00:00.000Z",
                "eventName": event_name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": "inbox-bucket", "arn": "arn:aws:s3:::inbox-bucket"},
                    "object": obj,
                },
            }
        ]
    }


def test_s3_event_names_its_object_with_the_key_decoded() -> None:
    (ref,) = requests_from_message(s3_event("inbox/%ED%95%B4%EC%A0%81+%ED%8C%90+%2B1.mp4"))

    assert ref == S3ObjectRef("inbox-bucket", "inbox/해적 판 +1.mp4", "v1", "0123abcd", "0055AED6DCD90281E5")


def test_object_of_a_bucket_without_versioning_is_told_apart_by_etag_and_sequencer() -> None:
    (ref,) = requests_from_message(s3_event("inbox/a.mp4", version_id=None))

    assert isinstance(ref, S3ObjectRef)
    assert (ref.version_id, ref.version) == (None, "0123abcd:0055AED6DCD90281E5")


def test_event_of_several_records_names_each_object() -> None:
    event = s3_event("inbox/a.mp4")
    event["Records"].append(s3_event("inbox/b.mp4")["Records"][0])

    refs = requests_from_message(event)

    assert [ref.key for ref in refs if isinstance(ref, S3ObjectRef)] == ["inbox/a.mp4", "inbox/b.mp4"]


def test_s3_test_event_asks_for_nothing() -> None:
    assert requests_from_message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "inbox-bucket"}) == []


def test_event_other_than_an_object_created_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected S3 event 'ObjectRemoved:Delete'"):
        requests_from_message(s3_event("inbox/a.mp4", event_name="ObjectRemoved:Delete"))


def test_resubmit_request_is_read() -> None:
    body = {"type": "doverunner.resubmit", "job_id": "job-1", "uploads": 0}

    assert requests_from_message(body) == [ResubmitRequest("job-1", 0)]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "doverunner.resubmit", "job_id": "", "uploads": 1},
        {"type": "doverunner.resubmit", "job_id": 7, "uploads": 1},
        {"type": "doverunner.resubmit", "job_id": "job-1", "uploads": True},
        {"type": "doverunner.resubmit", "job_id": "job-1", "uploads": "1"},
    ],
)
def test_resubmit_request_with_a_wrong_field_is_an_error(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="a resubmit request needs a job_id and the number of uploads"):
        requests_from_message(body)


def test_step_input_gives_the_job_and_the_last_checks_state() -> None:
    assert step_input({"job_id": "job-1", "check": {"attempt": 2}}, "check") == ("job-1", {"attempt": 2})


@pytest.mark.parametrize("check", [None, "text", [1]])
def test_step_input_without_a_check_state_starts_from_none(check: object) -> None:
    assert step_input({"job_id": "job-1", "check": check}, "check") == ("job-1", {})


@pytest.mark.parametrize("event", [{}, {"job_id": ""}, {"job_id": 1}, "job-1", None])
def test_step_input_without_a_job_id_is_an_error_naming_the_step(event: object) -> None:
    with pytest.raises(ValueError, match="the report step needs a job_id"):
        step_input(event, "report")


def test_check_input_gives_the_job_and_the_token() -> None:
    assert check_input({"job_id": "job-1", "task_token": "t"}) == ("job-1", "t")


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("job-1", "a JSON object"),
        ({"task_token": "t"}, "job_id"),
        ({"job_id": "job-1", "task_token": ""}, "task_token"),
        ({"job_id": "job-1"}, "task_token"),
    ],
)
def test_check_input_missing_what_it_needs_is_an_error_naming_it(event: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_input(event)
