"""The AWS calls the adapters make, checked with botocore's Stubber: no network, no local AWS."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.messaging import MAX_REASON_CHARS, SnsResultsTopic, SqsDeadLetters
from antipiracy.adapters.s3_objects import S3Objects
from antipiracy.adapters.step_functions import StepFunctionsExecutions
from antipiracy.domain.jobs import JobState, JobsUnavailable, StateConflict
from antipiracy.domain.schedule import WOKEN

KEYS: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "y"}
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tracking"


def stubbed(service: str, **options: Any) -> Iterator[Stubber]:
    with Stubber(boto3.client(service, **KEYS, **options)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3() -> Iterator[Stubber]:
    yield from stubbed("s3", config=Config(signature_version="s3v4"))


@pytest.fixture
def sfn() -> Iterator[Stubber]:
    yield from stubbed("stepfunctions")


@pytest.fixture
def sns() -> Iterator[Stubber]:
    yield from stubbed("sns")


@pytest.fixture
def sqs() -> Iterator[Stubber]:
    yield from stubbed("sqs")


@pytest.fixture
def jobs_table() -> Iterator[tuple[Stubber, JobsTable]]:
    table = boto3.resource("dynamodb", **KEYS).Table("jobs")
    with Stubber(table.meta.client) as stubber:
        yield stubber, JobsTable(table)
        stubber.assert_no_pending_responses()


# ---- S3 ---------------------------------------------------------------------------------------------------------


def test_put_json_writes_indented_utf8_json_with_its_content_type(s3: Stubber) -> None:
    document = {"title": "해적판", "state": "COMPLETED"}
    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": "inbox",
            "Key": "results/inbox/a.mp4.json",
            "Body": json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
            "ContentType": "application/json; charset=utf-8",
        },
    )

    S3Objects(s3.client).put_json("inbox", "results/inbox/a.mp4.json", document)


def test_head_asks_for_the_version_named(s3: Stubber) -> None:
    s3.add_response(
        "head_object",
        {"ContentLength": 5, "VersionId": "v1", "Metadata": {"title": "t"}},
        {"Bucket": "inbox", "Key": "inbox/a.mp4", "VersionId": "v1"},
    )

    head = S3Objects(s3.client).head("inbox", "inbox/a.mp4", "v1")

    assert (head["ContentLength"], head["Metadata"]) == (5, {"title": "t"})


def test_head_without_a_version_asks_for_the_latest(s3: Stubber) -> None:
    s3.add_response("head_object", {"ContentLength": 5}, {"Bucket": "inbox", "Key": "inbox/a.mp4"})

    assert S3Objects(s3.client).head("inbox", "inbox/a.mp4", None)["ContentLength"] == 5


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NoSuchVersion"])
def test_head_of_an_object_that_is_gone_is_file_not_found(s3: Stubber, code: str) -> None:
    s3.add_client_error("head_object", service_error_code=code, http_status_code=404)

    with pytest.raises(FileNotFoundError, match=r"inbox/a\.mp4"):
        S3Objects(s3.client).head("inbox", "inbox/a.mp4", "v1")


def test_head_refused_for_another_reason_is_raised_as_is(s3: Stubber) -> None:
    s3.add_client_error("head_object", service_error_code="403", http_status_code=403)

    with pytest.raises(ClientError):
        S3Objects(s3.client).head("inbox", "inbox/a.mp4", "v1")


def test_open_reads_the_version_named(s3: Stubber) -> None:
    s3.add_response(
        "get_object", {"Body": io.BytesIO(b"video")}, {"Bucket": "inbox", "Key": "inbox/a.mp4", "VersionId": "v1"}
    )

    assert S3Objects(s3.client).open("inbox", "inbox/a.mp4", "v1").read() == b"video"


def test_presigned_url_names_the_version_and_lasts_the_time_asked(s3: Stubber) -> None:
    url = S3Objects(s3.client).presigned_get("inbox", "inbox/a b.mp4", "v1", 600)

    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith("/inbox/a%20b.mp4")
    assert (query["versionId"], query["X-Amz-Expires"]) == (["v1"], ["600"])
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


# ---- Step Functions ---------------------------------------------------------------------------------------------


def test_start_sends_the_payload_as_json_input_under_the_name(sfn: Stubber) -> None:
    payload = {"job_id": "job-1", "check": {"attempt": 0, "detection_id": None}}
    arn = f"{MACHINE.replace(':stateMachine:', ':execution:')}:job-1"
    sfn.add_response(
        "start_execution",
        {"executionArn": arn, "startDate": datetime(2026, 11, 24, tzinfo=UTC)},
        {"stateMachineArn": MACHINE, "name": "job-1", "input": json.dumps(payload)},
    )

    assert StepFunctionsExecutions(sfn.client, MACHINE).start("job-1", payload) == arn


def test_repeated_start_answers_the_arn_built_from_the_name(sfn: Stubber) -> None:
    sfn.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")

    arn = StepFunctionsExecutions(sfn.client, MACHINE).start("job-1", {"job_id": "job-1"})

    assert arn == "arn:aws:states:us-east-1:123456789012:execution:tracking:job-1"


def test_start_refused_for_another_reason_is_raised(sfn: Stubber) -> None:
    sfn.add_client_error("start_execution", service_error_code="StateMachineDoesNotExist")

    with pytest.raises(ClientError):
        StepFunctionsExecutions(sfn.client, MACHINE).start("job-1", {})


def test_start_without_a_state_machine_is_an_error(sfn: Stubber) -> None:
    with pytest.raises(ValueError, match="no state machine"):
        StepFunctionsExecutions(sfn.client).start("job-1", {})


def test_wake_sends_task_success_for_the_token_with_nothing_ended(sfn: Stubber) -> None:
    sfn.add_response("send_task_success", {}, {"taskToken": "token-1", "output": json.dumps(WOKEN)})

    assert StepFunctionsExecutions(sfn.client).wake("token-1", job_id="job-1") is True
    assert WOKEN == {"woken_by": "notification", "terminal": False, "timed_out": False, "resubmit": False}


def test_complete_ends_the_callers_task_with_its_output(sfn: Stubber) -> None:
    sfn.add_response("send_task_success", {}, {"taskToken": "token-1", "output": json.dumps({"terminal": True})})

    StepFunctionsExecutions(sfn.client).complete("token-1", {"terminal": True})

    sfn.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist", "AccessDeniedException"])
def test_wake_refused_answers_false(sfn: Stubber, code: str) -> None:
    sfn.add_client_error("send_task_success", service_error_code=code)

    assert StepFunctionsExecutions(sfn.client).wake("token-1", job_id="job-1") is False


# ---- SNS, SQS ---------------------------------------------------------------------------------------------------


def test_publish_sends_the_message_as_json_with_string_attributes(sns: Stubber) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:results"
    message = {"job_id": "job-1", "title": "해적판"}
    sns.add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": topic,
            "Message": json.dumps(message, ensure_ascii=False),
            "MessageAttributes": {
                "state": {"DataType": "String", "StringValue": "COMPLETED"},
                "watermark_found": {"DataType": "String", "StringValue": "true"},
            },
        },
    )

    SnsResultsTopic(sns.client, topic).publish(message, {"state": "COMPLETED", "watermark_found": "true"})


def test_dead_letter_keeps_the_body_and_a_cut_reason(sqs: Stubber) -> None:
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/revocations-dlq"
    sqs.add_response(
        "send_message",
        {"MessageId": "m-1"},
        {
            "QueueUrl": queue,
            "MessageBody": '{"not": "a notification"}',
            "MessageAttributes": {"reason": {"DataType": "String", "StringValue": "r" * MAX_REASON_CHARS}},
        },
    )

    SqsDeadLetters(sqs.client, queue).send('{"not": "a notification"}', "r" * (MAX_REASON_CHARS + 1))


# ---- the jobs table ---------------------------------------------------------------------------------------------


def test_update_sets_the_fields_only_from_the_expected_states_while_match_holds(
    jobs_table: tuple[Stubber, JobsTable],
) -> None:
    stubber, table = jobs_table
    stubber.add_response(
        "update_item",
        {"Attributes": {"job_id": {"S": "job-1"}, "state": {"S": "SUBMITTING"}, "uploads": {"N": "1"}}},
        {
            "TableName": "jobs",
            "Key": {"job_id": "job-1"},
            "UpdateExpression": "SET #f0 = :v0, #f1 = :v1",
            "ConditionExpression": "attribute_exists(job_id) AND #state IN (:s0, :s1) AND #m0 = :m0",
            "ExpressionAttributeNames": {"#f0": "state", "#f1": "updated_at", "#state": "state", "#m0": "uploads"},
            "ExpressionAttributeValues": {
                ":v0": "SUBMITTING",
                ":v1": ANY,
                ":s0": "SUBMITTED",
                ":s1": "TRACKING",
                ":m0": 1,
            },
            "ReturnValues": "ALL_NEW",
        },
    )

    job = table.update(
        "job-1", {"state": "SUBMITTING"}, expect=(JobState.SUBMITTED, JobState.TRACKING), match={"uploads": 1}
    )

    assert job == {"job_id": "job-1", "state": "SUBMITTING", "uploads": 1}


def test_update_without_conditions_only_needs_the_job_to_exist(jobs_table: tuple[Stubber, JobsTable]) -> None:
    stubber, table = jobs_table
    stubber.add_response(
        "update_item",
        {"Attributes": {"job_id": {"S": "job-1"}}},
        {
            "TableName": "jobs",
            "Key": {"job_id": "job-1"},
            "UpdateExpression": "SET #f0 = :v0, #f1 = :v1",
            "ConditionExpression": "attribute_exists(job_id)",
            "ExpressionAttributeNames": {"#f0": "last_error", "#f1": "updated_at"},
            "ExpressionAttributeValues": {":v0": "timeout", ":v1": ANY},
            "ReturnValues": "ALL_NEW",
        },
    )

    table.update("job-1", {"last_error": "timeout"})


def test_update_appends_history_to_a_list_it_creates_if_missing(jobs_table: tuple[Stubber, JobsTable]) -> None:
    stubber, table = jobs_table
    stubber.add_response(
        "update_item",
        {"Attributes": {"job_id": {"S": "job-1"}}},
        {
            "TableName": "jobs",
            "Key": {"job_id": "job-1"},
            "UpdateExpression": "SET #f0 = :v0, #f1 = :v1, #h = list_append(if_not_exists(#h, :empty), :h)",
            "ConditionExpression": "attribute_exists(job_id)",
            "ExpressionAttributeNames": {"#f0": "checks", "#f1": "updated_at", "#h": "history"},
            # A float becomes a Decimal, and a None value leaves the map.
            "ExpressionAttributeValues": {
                ":v0": 2,
                ":v1": ANY,
                ":h": [{"detect_status": "FD003", "progress": Decimal("0.5")}],
                ":empty": [],
            },
            "ReturnValues": "ALL_NEW",
        },
    )

    table.update("job-1", {"checks": 2}, history={"detect_status": "FD003", "progress": 0.5, "note": None})


def test_update_whose_condition_fails_is_a_state_conflict(jobs_table: tuple[Stubber, JobsTable]) -> None:
    stubber, table = jobs_table
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")

    with pytest.raises(StateConflict, match=r"job job-1 is not in \['RECEIVED'\]"):
        table.update("job-1", {"state": "SUBMITTING"}, expect=(JobState.RECEIVED,))


def test_update_refused_for_another_reason_is_raised(jobs_table: tuple[Stubber, JobsTable]) -> None:
    stubber, table = jobs_table
    stubber.add_client_error("update_item", service_error_code="ProvisionedThroughputExceededException")

    with pytest.raises(ClientError):
        table.update("job-1", {"state": "SUBMITTING"})


@pytest.mark.parametrize(
    ("code", "transient"), [("ProvisionedThroughputExceededException", True), ("AccessDeniedException", False)]
)
def test_wake_request_the_table_refuses_says_whether_trying_again_may_succeed(
    jobs_table: tuple[Stubber, JobsTable], code: str, transient: bool
) -> None:
    stubber, table = jobs_table
    stubber.add_client_error("update_item", service_error_code=code)

    with pytest.raises(JobsUnavailable) as refused:
        table.request_wake("job-1")

    assert (refused.value.code, refused.value.transient) == (code, transient)


def test_wake_request_for_an_unknown_or_finished_job_marks_nothing(jobs_table: tuple[Stubber, JobsTable]) -> None:
    stubber, table = jobs_table
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")

    assert table.request_wake("job-1") == (False, None)
