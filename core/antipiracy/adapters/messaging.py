"""Messages out: the results topic and the operator topic (SNS), the revocation dead-letter queue and the retry
requests on the ingest queue (SQS)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from antipiracy.domain.requests import RETRY_MESSAGE

MAX_REASON_CHARS = 1000


class SnsResultsTopic:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, message: Mapping[str, Any], attributes: Mapping[str, str]) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Message=json.dumps(dict(message), ensure_ascii=False),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )


class SnsOperatorAlerts:
    SUBJECT_MAX = 100  # SNS's limit on a subject

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def alert(self, subject: str, message: str) -> None:
        self._sns.publish(TopicArn=self._topic_arn, Subject=subject[: self.SUBJECT_MAX], Message=message)


class SqsRetryRequests:
    """Retry requests for held or refused jobs, on the ingest queue the submit function reads
    (domain/requests.RETRY_MESSAGE)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def request_retry(self, job_id: str, requested_by: str) -> None:
        body = {"type": RETRY_MESSAGE, "job_id": job_id, "requested_by": requested_by}
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body))


class SqsDeadLetters:
    """A dead-letter queue a function writes to itself: the message as it came, its reason as an attribute."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, body: str, reason: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]}},
        )
