"""One isolated set of local AWS resources for a pipeline test, and the clients to reach them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

from aws_clients import REGION

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.messaging import SnsResultsTopic
from antipiracy.adapters.s3_objects import S3Objects
from antipiracy.adapters.step_functions import StepFunctionsExecutions
from antipiracy.config import PipelineConfig
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.services.report import Reports
from antipiracy.services.submit import Submitter
from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner

__all__ = ["REGION", "LocalPipeline"]


@dataclass
class LocalPipeline:
    """One isolated set of AWS resources for a test, and the clients to reach them."""

    s3: Any
    sfn: Any
    sns: Any
    sqs: Any
    dynamodb: Any
    bucket: str
    jobs: JobsTable
    config: PipelineConfig
    results_queue_url: str
    client: DoveRunnerClient
    local: LocalDoveRunner

    def put(self, key: str, body: bytes, **extra: Any) -> S3ObjectRef:
        answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        return S3ObjectRef(self.bucket, key, answer.get("VersionId"), answer["ETag"].strip('"'), "0055AED6DCD90281E5")

    def submitter(self, **config_changes: Any) -> Submitter:
        config = replace(self.config, **config_changes)
        return Submitter(
            objects=S3Objects(self.s3),
            jobs=self.jobs,
            executions=StepFunctionsExecutions(self.sfn, config.state_machine_arn),
            client_factory=lambda: self.client,
            config=config,
        )

    @property
    def reports(self) -> Reports:
        return Reports(S3Objects(self.s3), self.config.results_prefix)

    @property
    def results_topic(self) -> SnsResultsTopic:
        return SnsResultsTopic(self.sns, self.config.results_topic_arn)

    @property
    def wakes(self) -> StepFunctionsExecutions:
        return StepFunctionsExecutions(self.sfn, self.config.state_machine_arn)

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
