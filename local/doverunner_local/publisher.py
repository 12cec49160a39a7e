"""Publishes status notifications to the registered SNS topic, as DoveRunner does, against a configurable AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from doverunner_local.engine import NotificationRecord


def sns_publisher(endpoint_url: str) -> Callable[[NotificationRecord, dict[str, Any]], None]:
    """Publishes with the keys the customer registered, to the topic's region, at `endpoint_url`."""

    def publish(target: NotificationRecord, message: dict[str, Any]) -> None:
        region = target.aws_arn.split(":")[3]
        client = boto3.client(
            "sns",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=target.aws_access_key,
            aws_secret_access_key=target.aws_secret_key,
        )
        client.publish(TopicArn=target.aws_arn, Message=json.dumps(message))

    return publish
