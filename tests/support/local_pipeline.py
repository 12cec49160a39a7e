"""One isolated set of local AWS resources for a pipeline test, and the clients to reach them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner
from pipeline.config import PipelineConfig
from pipeline.ingest import S3ObjectRef, Submitter
from pipeline.jobs import JobStore

REGION = "us-east-1"


@dataclass
class LocalPipeline:
    """One isolated set of AWS resources for a test, and the clients to reach them."""

    s3: Any
    sfn: Any
    sns: Any
    sqs: Any
    dynamodb: Any
    bucket: str
    jobs: JobStore
    config: PipelineConfig
    results_queue_url: str
    client: DoveRunnerClient
    local: LocalDoveRunner

    def put(self, key: str, body: bytes, **extra: Any) -> S3ObjectRef:
        answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        return S3ObjectRef(self.bucket, key, answer.get("VersionId"), answer["ETag"].strip('"'), "0055AED6DCD90281E5")

    def submitter(self, **config_changes: Any) -> Submitter:
        return Submitter(
            s3=self.s3,
            jobs=self.jobs,
            sfn=self.sfn,
            client_factory=lambda: self.client,
            config=replace(self.config, **config_changes),
        )

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.config.state_machine_arn)["executions"])

    def results(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.sqs.receive_message(QueueUrl=self.results_queue_url, MaxNumberOfMessages=10)
            if answer.get("Messages"):
                return [json.loads(json.loads(m["Body"])["Message"]) for m in answer["Messages"]]
            time.sleep(0.05)
        return []

    def s3_event(self, ref: S3ObjectRef, size: int = 1) -> dict[str, Any]:
        """The S3 notification S3 sends for `ref`, key URL-encoded as S3 does."""
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": "2026-11-24T12:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "inbox",
                        "bucket": {"name": ref.bucket, "arn": f"arn:aws:s3:::{ref.bucket}"},
                        "object": {
                            "key": quote_plus(ref.key, safe="/"),
                            "size": size,
                            "eTag": ref.etag,
                            "versionId": ref.version_id,
                            "sequencer": ref.sequencer,
                        },
                    },
                }
            ]
        }
