"""The whole pipeline on one machine: the CDK app synthesized as for a real account, deployed into the local AWS
(moto, Lambdas in this process), with the local DoveRunner behind it and the credentials secret filled.

    with LocalPipelineStack() as local:
        local.info()        # endpoint, DoveRunner URL, names and ARNs of every resource
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from antipiracy.domain.web_acls import WAF_REGION
from doverunner import ClientConfig, Credentials, DoveRunnerClient
from doverunner_local.aws import LocalAws, LocalDeployment
from doverunner_local.config import EmulatorConfig
from doverunner_local.publisher import sns_publisher
from doverunner_local.server import LocalDoveRunner

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "DoveRunnerDetection"
MIB = 1 << 20

# Context for the local run: the same app, with waits of seconds instead of minutes so a run takes seconds.
LOCAL_CONTEXT: dict[str, Any] = {
    "doverunner:initialWaitSeconds": 1,
    "doverunner:maxWaitSeconds": 2,
    "doverunner:waitGrowth": 1.5,
    "doverunner:maxTrackingSeconds": 300,
    # The local DoveRunner's notifications reach the stack (the topic is registered at start, as an operator does):
    # a known detection is polled every 3 s (longer than the waits) plus the tracker's time-out as the safety net.
    "doverunner:notificationsRegistered": True,
    "doverunner:notifiedPollSeconds": 3,
    # The local DoveRunner lists an upload's detection as the upload ends: an unanswered upload is repeated in 10 s.
    "doverunner:findUploadSeconds": 10,
    # Above the 40 MB compliant samples, small enough that the demo shows the URL-detection path with a 50 MiB file
    # (a real account: 5 GiB).
    "doverunner:urlDetectionThresholdBytes": 48 * MIB,
    # The ingest queue's visibility timeout is six times this: a failed message comes back in 12 s, not 90 min.
    "doverunner:submitTimeoutSeconds": 2,
    "doverunner:maxReceiveCount": 2,
    # A live request without max_seconds is stopped after 20 s, not an hour.
    "doverunner:liveMaxSeconds": 20,
}


def synthesize(outdir: Path, context: dict[str, Any]) -> float:
    """`python app.py` as for a real account (no credentials), with `context` on top of cdk.json's; seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)  # how the CDK CLI passes `-c key=value` to the app
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"synthesizing the CDK app failed:\n{done.stdout}{done.stderr}")
    return time.monotonic() - started


class LocalPipelineStack:
    def __init__(
        self, *, step_seconds: float = 0.3, context: dict[str, Any] | None = None, region: str = "us-east-1"
    ) -> None:
        self.step_seconds = step_seconds
        self.region = region
        self.context = {**LOCAL_CONTEXT, **(context or {})}
        self.timings: dict[str, float] = {}
        self.doverunner: LocalDoveRunner | None = None
        self.aws: LocalAws | None = None
        self.deployment: LocalDeployment | None = None
        self.noti_id: int | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> LocalPipelineStack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        self.aws = LocalAws(region=self.region, enforce_lambda_timeouts=False)
        config = EmulatorConfig(step_seconds=self.step_seconds, aws_endpoint_url=self.aws.endpoint_url)
        self.doverunner = LocalDoveRunner(config).start()
        self.doverunner.emulator.set_publisher(sns_publisher(self.aws.endpoint_url))
        self._workdir = tempfile.TemporaryDirectory(prefix="doverunner-local-")
        cdk_out = Path(self._workdir.name) / "cdk.out"
        context = {
            **self.context,
            "doverunner:siteId": config.site_id,
            "doverunner:apiUrl": self.doverunner.url,
        }
        self.timings["synth"] = synthesize(cdk_out, context)
        self.deployment = self.aws.deploy(cdk_out, STACK_NAME)
        self.timings["deploy"] = self.deployment.seconds
        # What the operator does after `cdk deploy`: fill the secret.
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=self.outputs["DoveRunnerSecretArn"],
            SecretString=json.dumps(
                {"site_key": config.site_key, "access_key": config.access_key, "account_id": config.account_id}
            ),
        )
        if "NotificationPublisherSecretArn" in self.outputs:
            self.noti_id = self._register_revocation_topic(config)
        self.timings["total"] = time.monotonic() - started

    def _register_revocation_topic(self, config: EmulatorConfig) -> int:
        """The manual way of docs/revocation.md: the revocation topic registered through the notification API with
        the publish-only user's keys from the stack's publisher secret, so the local DoveRunner publishes its
        status notifications there."""
        assert self.doverunner is not None
        secret = self.client("secretsmanager").get_secret_value(SecretId=self.outputs["NotificationPublisherSecretArn"])
        keys = json.loads(secret["SecretString"])
        client = DoveRunnerClient(
            ClientConfig(site_id=config.site_id, api_url=self.doverunner.url),
            Credentials(site_key=config.site_key, access_key=config.access_key, account_id=config.account_id),
        )
        return client.register_notification(
            "revocations", self.outputs["RevocationTopicArn"], keys["aws_access_key"], keys["aws_secret_key"]
        )

    @property
    def outputs(self) -> dict[str, str]:
        if self.deployment is None:
            raise RuntimeError("the local stack is not deployed")
        return self.deployment.outputs

    def client(self, service: str) -> Any:
        if self.aws is None:
            raise RuntimeError("the local AWS is not running")
        return self.aws.client(service)

    def waf_client(self) -> Any:
        """AWS WAF where CloudFront web ACLs live (us-east-1), whatever the stack's region."""
        if self.aws is None:
            raise RuntimeError("the local AWS is not running")
        return self.aws.glue.client("wafv2", WAF_REGION)

    def info(self) -> dict[str, Any]:
        """Where everything is: enough to drive the deployment with the AWS CLI or boto3."""
        if self.aws is None or self.doverunner is None or self.deployment is None:
            raise RuntimeError("the local stack is not running")
        out = self.outputs
        return {
            "aws_endpoint_url": self.aws.endpoint_url,
            "aws_region": self.aws.region,
            "doverunner_url": self.doverunner.url,
            "doverunner_admin_url": f"{self.doverunner.url}/_emulator",
            "stack_name": STACK_NAME,
            "inbox_bucket": out["InboxBucketName"],
            "inbox_prefix": self.context.get("doverunner:inboxPrefix", "inbox/"),
            "results_prefix": self.context.get("doverunner:resultsPrefix", "results/"),
            "requests_prefix": out["RequestsPrefix"],
            "ingest_queue_url": out["IngestQueueUrl"],
            "dead_letter_queue_url": out["IngestDeadLetterQueueUrl"],
            "jobs_table": out["JobsTableName"],
            "state_machine_arn": out["StateMachineArn"],
            "results_topic_arn": out["ResultsTopicArn"],
            "operator_topic_arn": out["OperatorTopicArn"],
            "doverunner_secret_arn": out["DoveRunnerSecretArn"],
            "revocation_topic_arn": out.get("RevocationTopicArn"),
            "revocation_queue_url": out.get("RevocationQueueUrl"),
            "revocation_dead_letter_queue_url": out.get("RevocationDeadLetterQueueUrl"),
            "revocation_ledger_table": out.get("RevocationLedgerTableName"),
            "web_acl_arn": out.get("WebAclArn"),
            "notification_id": self.noti_id,
            "timings_seconds": {k: round(v, 2) for k, v in self.timings.items()},
        }

    def close(self) -> None:
        if self.aws is not None:
            self.aws.close()
            self.aws = None
        if self.doverunner is not None:
            self.doverunner.stop()
            self.doverunner = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        self.deployment = None

    def __enter__(self) -> LocalPipelineStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
