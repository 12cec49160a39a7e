"""Serving a custom resource: CloudFormation gets an answer whatever the work does, and within the time."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from antipiracy.services.custom_resource import (
    MAX_REASON_CHARS,
    Answer,
    answer_within,
    failed,
    required_properties,
    serve,
)

RESPONSE_URL = "https://cloudformation-custom-resource-response.s3.amazonaws.com/signed?X-Amz-Signature=abc"


def event(request_type: str = "Create", physical_id: str | None = None, **properties: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:webacl",
        "ResponseURL": RESPONSE_URL,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1",
        "RequestId": "request-1",
        "LogicalResourceId": "WebAcl",
        "ResourceType": "Custom::WebAcl",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...", **properties},
    }
    if physical_id is not None:
        request["PhysicalResourceId"] = physical_id
    return request


class Sent:
    """Stands in for the PUT to the response URL: what was sent where."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, Mapping[str, Any]]] = []

    def __call__(self, url: str, body: Mapping[str, Any]) -> None:
        self.answers.append((url, body))

    @property
    def body(self) -> Mapping[str, Any]:
        ((_, body),) = self.answers
        return body


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets a held piece of work finish once the test is over."""
    gate = threading.Event()
    yield gate
    gate.set()


def test_answer_of_the_work_is_sent_to_the_response_url(sent: Sent) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        return Answer("SUCCESS", f"made-{properties['Name']}", "done", {"Arn": "arn:x"})

    answer = serve(event(Name="acl"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert answer == Answer("SUCCESS", "made-acl", "done", {"Arn": "arn:x"})
    assert sent.answers[0][0] == RESPONSE_URL
    assert sent.body == {
        "Status": "SUCCESS",
        "Reason": "done",
        "PhysicalResourceId": "made-acl",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1",
        "RequestId": "request-1",
        "LogicalResourceId": "WebAcl",
        "Data": {"Arn": "arn:x"},
    }


def test_work_is_given_the_request_type_physical_id_and_properties(sent: Sent) -> None:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        seen.append((request_type, physical_id, dict(properties)))
        return Answer("SUCCESS", physical_id)

    serve(event("Update", "arn:acl", Name="acl"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert seen == [("Update", "arn:acl", {"ServiceToken": "arn:aws:lambda:...", "Name": "acl"})]


def test_failed_create_answers_not_created_so_a_rollback_deletes_nothing(sent: Sent) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        raise ValueError("a secret-looking detail")

    answer = serve(event("Create"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert (answer.status, answer.physical_id) == ("FAILED", "not-created")
    assert answer.reason == "unexpected ValueError; the function's log has the details"
    assert sent.body["Status"] == "FAILED"


def test_failed_update_keeps_the_resources_physical_id(sent: Sent) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        raise RuntimeError("boom")

    answer = serve(event("Update", "arn:acl"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert (answer.status, answer.physical_id) == ("FAILED", "arn:acl")


def test_work_that_takes_too_long_is_answered_failed_in_time(sent: Sent, release: threading.Event) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        release.wait()
        return Answer("SUCCESS", "too-late")

    answer = serve(event("Create"), 0.0, work, not_created="not-created", late="WAF did not answer", send=sent)

    assert (answer.status, answer.physical_id, answer.reason) == ("FAILED", "not-created", "WAF did not answer")
    assert sent.body["Reason"] == "WAF did not answer"


def test_long_reason_is_cut_to_what_cloudformation_takes(sent: Sent) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        return Answer("FAILED", "not-created", "x" * (MAX_REASON_CHARS + 100))

    serve(event("Create"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert len(sent.body["Reason"]) == MAX_REASON_CHARS


def test_answer_without_a_reason_says_done_or_failed(sent: Sent) -> None:
    def work(request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        return Answer("SUCCESS", "id")

    serve(event("Create"), 5.0, work, not_created="not-created", late="late", send=sent)

    assert sent.body["Reason"] == "done"


def test_answer_within_gives_the_works_value() -> None:
    assert answer_within(5.0, lambda: 42, lambda reason: -1, "late") == 42


def test_failed_delete_of_nothing_keeps_not_created() -> None:
    answer = failed("Delete", "", "reason", not_created="not-created")

    assert answer.physical_id == "not-created"


def test_required_properties_name_every_missing_one() -> None:
    with pytest.raises(LookupError, match="the custom resource has no Name, TopicArn"):
        required_properties({"Name": "", "Other": "x"}, ("Name", "TopicArn", "Other"), LookupError)


def test_optional_properties_default_to_empty_text() -> None:
    values = required_properties({"Name": "acl"}, ("Name",), LookupError, optional=("Description",))

    assert values == {"Name": "acl", "Description": ""}
