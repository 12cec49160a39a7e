"""The events Lambda hands the functions: SQS batches, and the SNS notifications DoveRunner publishes in them."""

from __future__ import annotations

import json
from typing import Any

from aws_clients import REGION

INGEST_QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:ingest"


def sqs_event(*bodies: Any, queue_arn: str = INGEST_QUEUE_ARN) -> dict[str, Any]:
    """An SQS batch with one record per body (a string as it is, anything else as JSON), ids m0, m1, ..."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def sns_notification(message: dict[str, Any] | str) -> str:
    """An SQS message body as SNS delivers `message` (not raw): the notification envelope."""
    text = message if isinstance(message, str) else json.dumps(message)
    return json.dumps({"Type": "Notification", "Message": text})


def watermark_found(detection_id: int, token: str, mark: str = "0000000000000001") -> str:
    """DoveRunner's 1.1 notification that a detection found `mark`, whose session `token` is to be blocked."""
    return sns_notification(
        {"detection_id": detection_id, "detection_status": "FD004", "forensic_mark": mark, "watermark_token": token}
    )
