"""Driving the local deployment as an operator does: the `doverunner` CLI in a shell of its own, boto3, and the local
DoveRunner's admin surface (what a DoveRunner account manager would change: the quota)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from deployed_stack import POLL_SECONDS, user_environment

from doverunner_local.stack import LocalPipelineStack

DOVERUNNER = str(Path(sys.executable).with_name("doverunner"))


def doverunner(local: LocalPipelineStack, *args: str) -> dict[str, Any]:
    """`doverunner <args>` against the local deployment, from a user's shell; its JSON output."""
    assert local.aws is not None
    env = user_environment(
        AWS_ENDPOINT_URL=local.aws.endpoint_url,
        AWS_DEFAULT_REGION=local.aws.region,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
    )
    done = subprocess.run([DOVERUNNER, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"doverunner {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
    return dict(json.loads(done.stdout))


def set_doverunner(local: LocalPipelineStack, **settings: Any) -> None:
    """Changes the local DoveRunner's settings (its admin surface)."""
    assert local.doverunner is not None
    response = requests.patch(f"{local.doverunner.url}/_emulator/config", json=settings, timeout=10)
    response.raise_for_status()


def jobs_in(local: LocalPipelineStack, state: str) -> list[dict[str, Any]]:
    return list(doverunner(local, "jobs", "list", "--state", state)["jobs"])


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(POLL_SECONDS * 4)


def subscribe_queue(local: LocalPipelineStack, topic_output: str) -> str:
    """A queue subscribed to one of the stack's topics (raw messages): what an operator's tooling would do."""
    sqs, sns = local.client("sqs"), local.client("sns")
    url = sqs.create_queue(QueueName=f"watch-{topic_output}-{time.monotonic_ns()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=local.outputs[topic_output], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return str(url)


def received(local: LocalPipelineStack, queue_url: str) -> list[str]:
    sqs = local.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages")
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
