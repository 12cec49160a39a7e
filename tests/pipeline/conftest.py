"""Fixtures for the pipeline's logic: real AWS APIs from the local AWS (moto server), the local DoveRunner."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_clients import unique_name
from local_pipeline import LocalPipeline
from settings import pipeline_settings

from antipiracy.adapters.jobs_table import JobsTable
from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner


@pytest.fixture
def pipeline(
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    local_doverunner: LocalDoveRunner,
    client: DoveRunnerClient,
) -> LocalPipeline:
    s3, sfn, sns, sqs = (aws_client(service) for service in ("s3", "stepfunctions", "sns", "sqs"))
    dynamodb = aws_resource("dynamodb")
    name = unique_name("t")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    config = pipeline_settings(
        jobs_table=name, api_url=local_doverunner.url, state_machine_arn=machine, results_topic_arn=topic
    )
    return LocalPipeline(
        s3, sfn, sns, sqs, dynamodb, name, JobsTable(table), config, queue_url, client, local_doverunner
    )


@pytest.fixture
def video_bytes(sample_stream: Callable[..., io.BytesIO]) -> Callable[..., bytes]:
    """Sample video bytes: video_bytes("mp4", mark=..., fail=..., size=..., short=...); by default a video
    DoveRunner can detect on (40 MB)."""
    return lambda *args, **options: sample_stream(*args, **options).getvalue()
