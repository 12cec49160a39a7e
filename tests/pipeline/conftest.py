"""Fixtures for the pipeline's logic: real AWS APIs from the local AWS (moto server), the local DoveRunner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import boto3
import pytest
from local_pipeline import REGION, LocalPipeline

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.config import PipelineConfig
from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner


@pytest.fixture
def pipeline(moto_endpoint: str, local_doverunner: LocalDoveRunner, client: DoveRunnerClient) -> LocalPipeline:
    keys = {
        "region_name": REGION,
        "endpoint_url": moto_endpoint,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "y",
    }
    s3 = boto3.client("s3", **keys)
    sfn = boto3.client("stepfunctions", **keys)
    sns = boto3.client("sns", **keys)
    sqs = boto3.client("sqs", **keys)
    dynamodb = boto3.resource("dynamodb", **keys)
    name = f"t{uuid.uuid4().hex[:12]}"
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
    config = PipelineConfig(
        jobs_table=name,
        secret_id="unused-here",
        site_id="DEMO",
        api_url=local_doverunner.url,
        default_service="PD002",
        inbox_prefix="inbox/",
        results_prefix="results/",
        state_machine_arn=machine,
        results_topic_arn=topic,
        url_detection_threshold=5 * 1024**3,
        force_url_detection=False,
        presigned_url_seconds=3600,
        initial_wait_seconds=30,
        max_wait_seconds=900,
        wait_growth=2.0,
        max_tracking_seconds=7 * 24 * 3600,
        find_upload_seconds=1800,
    )
    return LocalPipeline(
        s3, sfn, sns, sqs, dynamodb, name, JobsTable(table), config, queue_url, client, local_doverunner
    )


@pytest.fixture
def video_bytes() -> Callable[..., bytes]:
    """Sample video bytes: video_bytes("mp4", mark=..., fail=..., size=...)."""
    import io

    from doverunner_local.samples import write_sample

    def make(kind: str = "mp4", *, size: int = 64 * 1024, mark: str | None = None, fail: str | None = None) -> bytes:
        buffer = io.BytesIO()
        write_sample(buffer, kind, size, mark=mark, fail=fail)
        return buffer.getvalue()

    return make
