"""A registered SNS topic receives DoveRunner's status notification when a detection ends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_clients import unique_name

from doverunner import DoveRunnerClient
from doverunner_local.publisher import sns_publisher
from doverunner_local.server import LocalDoveRunner

REGION = "ap-northeast-2"


@dataclass
class Topic:
    arn: str
    queue_url: str
    sqs: Any

    def messages(self, expected: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in answer.get("Messages", []):
                found.append(json.loads(json.loads(message["Body"])["Message"]))
            if len(found) < expected:
                time.sleep(0.05)
        return found


@pytest.fixture
def topic(moto_endpoint: str, aws_client: Callable[..., Any], local_doverunner: LocalDoveRunner) -> Topic:
    """An SNS topic in the local AWS with an SQS queue subscribed, and the local DoveRunner publishing there."""
    sns = aws_client("sns", region=REGION)
    sqs = aws_client("sqs", region=REGION)
    name = unique_name("revoke-")
    arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    local_doverunner.config.aws_endpoint_url = moto_endpoint
    local_doverunner.emulator.set_publisher(sns_publisher(moto_endpoint))
    return Topic(arn, queue_url, sqs)


def register(client: DoveRunnerClient, topic: Topic) -> None:
    client.register_notification("revocations", topic.arn, "AKIALOCALPUBLISHER", "local-secret")


def finish(client: DoveRunnerClient, url: str) -> int:
    detection_id = client.detect_url("suspect", url)
    client.wait(detection_id, interval=0.02, timeout=20)
    return detection_id


def test_watermark_found_publishes_fd004_with_the_sessions_token(
    client: DoveRunnerClient,
    topic: Topic,
    local_doverunner: LocalDoveRunner,
    sample: Callable[..., Path],
    file_server: str,
) -> None:
    register(client, topic)
    sample("a.mp4", mark="0000000000000001")

    detection_id = finish(client, f"{file_server}/a.mp4")

    assert topic.messages() == [
        {
            "detection_id": detection_id,
            "detection_status": "FD004",
            "forensic_mark": "0000000000000001",
            "watermark_token": local_doverunner.emulator.sessions["0000000000000001"].revoke_token,
        }
    ]


def test_failed_detection_publishes_its_error_code_and_message(
    client: DoveRunnerClient, topic: Topic, sample: Callable[..., Path], file_server: str
) -> None:
    register(client, topic)
    sample("a.mp4", fail="D002")

    detection_id = finish(client, f"{file_server}/a.mp4")

    assert topic.messages() == [
        {
            "detection_id": detection_id,
            "detection_status": "FD007",
            "error_code": "D002",
            "error_message": "The length of the video is less than 5 minutes.",
        }
    ]


def test_version_1_0_message_carries_revoke_token_and_site_id(
    client: DoveRunnerClient,
    topic: Topic,
    local_doverunner: LocalDoveRunner,
    sample: Callable[..., Path],
    file_server: str,
) -> None:
    local_doverunner.config.notification_version = "1.0"
    register(client, topic)
    sample("a.mp4", mark="0000000000000002")

    finish(client, f"{file_server}/a.mp4")

    assert topic.messages() == [
        {
            "revoke_token": local_doverunner.emulator.sessions["0000000000000002"].revoke_token,
            "site_id": "DEMO",
        }
    ]


def test_canceled_detection_publishes_nothing(
    client: DoveRunnerClient, topic: Topic, local_doverunner: LocalDoveRunner
) -> None:
    register(client, topic)
    local_doverunner.config.step_seconds = 0.3
    detection_id = client.detect_url("to stop", "http://127.0.0.1:9/a.mp4")
    client.stop(detection_id)
    client.wait(detection_id, interval=0.05, timeout=20)

    assert topic.messages(timeout=0.5) == []


def test_nothing_is_published_without_a_registration(
    client: DoveRunnerClient, topic: Topic, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4", mark="0000000000000001")

    finish(client, f"{file_server}/a.mp4")

    assert topic.messages(timeout=0.5) == []


def test_deleted_registration_stops_publishing(
    client: DoveRunnerClient, topic: Topic, sample: Callable[..., Path], file_server: str
) -> None:
    register(client, topic)
    client.delete_notification(client.list_notifications()[0].noti_id)
    sample("a.mp4", mark="0000000000000001")

    finish(client, f"{file_server}/a.mp4")

    assert topic.messages(timeout=0.5) == []


def test_publish_failure_is_recorded_not_lost(
    client: DoveRunnerClient,
    local_doverunner: LocalDoveRunner,
    moto_endpoint: str,
    sample: Callable[..., Path],
    file_server: str,
) -> None:
    local_doverunner.emulator.set_publisher(sns_publisher(moto_endpoint))
    client.register_notification("gone", "arn:aws:sns:ap-northeast-2:123456789012:no-such-topic", "a", "b")
    sample("a.mp4", mark="0000000000000001")

    finish(client, f"{file_server}/a.mp4")
    deadline = time.monotonic() + 10
    while not local_doverunner.emulator.deliveries and time.monotonic() < deadline:
        time.sleep(0.02)

    delivery = local_doverunner.emulator.deliveries[-1]
    assert delivery["delivered"] is False
    assert "NotFound" in delivery["error"]
