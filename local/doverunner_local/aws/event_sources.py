"""What the Lambda service does for an SQS event source mapping, which moto does not do faithfully.

moto delivers SQS messages to a mapped function inline, inside SendMessage, one message per invocation, and makes
a failed batch visible again at once. Lambda instead polls: it receives up to BatchSize messages (waiting up to
MaximumBatchingWindowInSeconds to fill the batch), invokes the function once with all of them, deletes them when
the invocation succeeds and otherwise leaves them to reappear after the queue's visibility timeout, so that the
queue's redrive policy moves them to the dead-letter queue after maxReceiveCount receives. With
ReportBatchItemFailures, only the messages the function lists in batchItemFailures stay.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("doverunner_local.aws.esm")

# SQS returns at most 10 messages per ReceiveMessage.
_SQS_RECEIVE_MAX = 10
# Long-poll length: also how long stop() may wait for a poller to notice.
_POLL_SECONDS = 1


@dataclass(frozen=True)
class SqsEventSourceMapping:
    """The parts of an event source mapping the poller needs (GetEventSourceMapping's names, in snake case)."""

    uuid: str
    function_arn: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: float
    report_batch_item_failures: bool
    enabled: bool = True

    @classmethod
    def from_api(cls, mapping: Mapping[str, Any], queue_url: str) -> SqsEventSourceMapping:
        if mapping.get("FilterCriteria"):
            # Filtering deletes the messages that do not match, without invoking: not emulated, so refuse.
            raise NotImplementedError(f"event source mapping {mapping['UUID']}: FilterCriteria is not emulated")
        return cls(
            uuid=str(mapping["UUID"]),
            function_arn=str(mapping["FunctionArn"]),
            queue_arn=str(mapping["EventSourceArn"]),
            queue_url=queue_url,
            batch_size=int(mapping.get("BatchSize") or 10),
            batching_window_seconds=float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            report_batch_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
            enabled=mapping.get("State", "Enabled") != "Disabled",
        )


def sqs_lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda puts it in the event's Records."""
    attributes = {
        name: value
        for name, value in message.get("Attributes", {}).items()
        if name
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "MessageDeduplicationId",
            "AWSTraceHeader",
        )
    }
    message_attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            converted["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        message_attributes[name] = converted
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def messages_to_delete(
    message_ids: Sequence[str], *, function_error: bool, response: Any, report_batch_item_failures: bool
) -> set[str]:
    """Which messages of a batch Lambda deletes after the invocation (the others will be received again).

    With ReportBatchItemFailures, a null or empty response or batchItemFailures means complete success; a response
    that is not an object, or an item whose itemIdentifier is missing, empty or not in the batch, means complete
    failure (AWS Lambda developer guide, "Reporting batch item failures").
    """
    if function_error:
        return set()
    everything = set(message_ids)
    if not report_batch_item_failures or response is None:
        return everything
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if not failures:
        return everything
    if not isinstance(failures, list):
        return set()
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return set()
        failed.add(identifier)
    return everything - failed


@dataclass
class PollerStats:
    batches: int = 0
    messages: int = 0
    deleted: int = 0
    function_errors: int = 0


class SqsPoller:
    """One thread per mapping: receive a batch, invoke, delete what succeeded; until stop()."""

    def __init__(self, mapping: SqsEventSourceMapping, *, sqs: Any, lambda_client: Any, region: str) -> None:
        self.mapping = mapping
        self.stats = PollerStats()
        self._sqs = sqs
        self._lambda = lambda_client
        self._region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping.uuid[:8]}", daemon=True)

    def start(self) -> None:
        if self.mapping.enabled:
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive_batch()
                if messages:
                    self._process(messages)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("event source mapping %s: poll failed; retrying", self.mapping.uuid)
                self._stop.wait(_POLL_SECONDS)

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(count, _SQS_RECEIVE_MAX),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch = self._receive(self.mapping.batch_size, _POLL_SECONDS)
        if not batch:
            return batch
        window_end = time.monotonic() + self.mapping.batching_window_seconds
        while len(batch) < self.mapping.batch_size and not self._stop.is_set():
            if time.monotonic() >= window_end:
                break
            more = self._receive(self.mapping.batch_size - len(batch), 0)
            if more:
                batch.extend(more)
            else:
                self._stop.wait(min(0.1, max(0.0, window_end - time.monotonic())))
        return batch

    def _process(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_lambda_record(m, self.mapping.queue_arn, self._region) for m in messages]}
        response = self._lambda.invoke(
            FunctionName=self.mapping.function_arn, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        function_error = bool(response.get("FunctionError"))
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        ids = [m["MessageId"] for m in messages]
        deletable = messages_to_delete(
            ids,
            function_error=function_error,
            response=payload,
            report_batch_item_failures=self.mapping.report_batch_item_failures,
        )
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self.stats.function_errors += int(function_error)
        self._delete([m for m in messages if m["MessageId"] in deletable])

    def _delete(self, messages: Iterable[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        for start in range(0, len(entries), _SQS_RECEIVE_MAX):
            chunk = entries[start : start + _SQS_RECEIVE_MAX]
            result = self._sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=chunk)
            self.stats.deleted += len(result.get("Successful", []))
            for failure in result.get("Failed", []):
                log.warning("event source mapping %s: delete failed: %s", self.mapping.uuid, failure)
