"""What Lambda deletes after invoking a function with an SQS batch, and the records it sends."""

from __future__ import annotations

from typing import Any

import pytest

from doverunner_local.aws.event_sources import SqsEventSourceMapping, messages_to_delete, sqs_lambda_record

IDS = ["m1", "m2", "m3"]


def test_successful_batch_deletes_every_message() -> None:
    deleted = messages_to_delete(
        IDS, function_error=False, response={"batchItemFailures": []}, report_batch_item_failures=True
    )
    assert deleted == set(IDS)


def test_function_error_keeps_the_whole_batch() -> None:
    deleted = messages_to_delete(IDS, function_error=True, response=None, report_batch_item_failures=True)
    assert deleted == set()


def test_batch_item_failures_keep_only_the_listed_messages() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    deleted = messages_to_delete(IDS, function_error=False, response=response, report_batch_item_failures=True)
    assert deleted == {"m1", "m3"}


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}])
def test_empty_response_means_complete_success(response: Any) -> None:
    deleted = messages_to_delete(IDS, function_error=False, response=response, report_batch_item_failures=True)
    assert deleted == set(IDS)


@pytest.mark.parametrize(
    "response",
    [
        "not an object",
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemId": "m1"}]},
        {"batchItemFailures": "m1"},
    ],
)
def test_malformed_batch_item_failures_mean_complete_failure(response: Any) -> None:
    deleted = messages_to_delete(IDS, function_error=False, response=response, report_batch_item_failures=True)
    assert deleted == set()


def test_response_is_ignored_without_report_batch_item_failures() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    deleted = messages_to_delete(IDS, function_error=False, response=response, report_batch_item_failures=False)
    assert deleted == set(IDS)


def test_sqs_record_uses_lambda_field_names() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "handle",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "Policy": "not a message attribute"},
        "MessageAttributes": {"kind": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    }
    record = sqs_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:inbox", "us-east-1")
    assert record == {
        "messageId": "m1",
        "receiptHandle": "handle",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "messageAttributes": {
            "kind": {"binaryValue": "AAE=", "dataType": "Binary", "stringListValues": [], "binaryListValues": []}
        },
        "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inbox",
        "awsRegion": "us-east-1",
    }


def test_mapping_with_filter_criteria_is_refused() -> None:
    mapping = {
        "UUID": "u",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:inbox",
        "FilterCriteria": {"Filters": [{"Pattern": "{}"}]},
    }
    with pytest.raises(NotImplementedError, match="FilterCriteria"):
        SqsEventSourceMapping.from_api(mapping, "http://queue")
