"""Driving the app deployed into the local AWS (doverunner_local.stack.LocalPipelineStack) as a user does: drop a
video into the inbox, wait for its report; and what the e2e tests read back (detections, the web ACL's rules).

Tests share a deployment (tests/e2e/conftest.py), so each drops under a key of its own (`unique_key`).
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from antipiracy.domain.web_acls import parse_arn
from doverunner_local.samples import write_sample
from doverunner_local.stack import LocalPipelineStack

POLL_SECONDS = 0.05


def unique_key(name: str) -> str:
    """An inbox key for `name` that no other test drops: inbox/<8 hex digits>/<name>."""
    return f"inbox/{uuid.uuid4().hex[:8]}/{name}"


def video(
    kind: str = "mp4", *, size: int | None = None, mark: str | None = None, fail: str | None = None, short: bool = False
) -> bytes:
    """A sample video's bytes; by default one DoveRunner can detect on (40 MB, doverunner_local.samples.COMPLIANT)."""
    buffer = io.BytesIO()
    write_sample(buffer, kind, size, mark=mark, fail=fail, short=short)
    return buffer.getvalue()


def drop(local: LocalPipelineStack, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
    """Puts `body` into the inbox bucket under `key`: S3's answer (its VersionId and ETag)."""
    return dict(local.client("s3").put_object(Bucket=local.outputs["InboxBucketName"], Key=key, Body=body, **extra))


def read_report(local: LocalPipelineStack, key: str) -> dict[str, Any] | None:
    """The report beside `key` as it is now (results/<key>.json), None before there is one."""
    try:
        body = local.client("s3").get_object(Bucket=local.outputs["InboxBucketName"], Key=f"results/{key}.json")
    except ClientError:
        return None
    return dict(json.loads(body["Body"].read()))


def report(
    local: LocalPipelineStack,
    key: str,
    timeout: float = 90.0,
    until: Callable[[dict[str, Any]], object] = lambda _report: True,
    waiting_for: str = "a report",
) -> dict[str, Any]:
    """The report of `key` once there is one (for which `until` holds), polled every POLL_SECONDS."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_report(local, key)
        if found is not None and until(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting_for} for {key} not within {timeout}s; last: {found}")
        time.sleep(POLL_SECONDS)


def report_with_revocation(local: LocalPipelineStack, key: str, timeout: float = 60.0) -> dict[str, Any]:
    """The report of `key` once it names its revocation: the tracker and the revoker each write the report, and
    whichever is second leaves the revocation in it."""
    return report(local, key, timeout, until=lambda r: r.get("revocation"), waiting_for="a report naming a revocation")


def detections_titled(local: LocalPipelineStack, title: str) -> list[dict[str, Any]]:
    assert local.doverunner is not None
    return [d for d in local.doverunner.emulator.snapshot()["detections"] if d["title"] == title]


def web_acl(local: LocalPipelineStack) -> dict[str, Any]:
    """The stack's CloudFront web ACL (in us-east-1, whatever the stack's region)."""
    acl = parse_arn(local.outputs["WebAclArn"])
    return dict(local.waf_client().get_web_acl(Name=acl.name, Id=acl.id, Scope="CLOUDFRONT")["WebACL"])


def user_environment(**variables: str) -> dict[str, str]:
    """The environment of a user's shell: none of the variables this test process's own local AWS has set (but
    that no instance metadata service is asked for credentials: there is none), and `variables`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "POWERTOOLS_", "LAMBDA_", "_"))}
    return {**clean, "AWS_EC2_METADATA_DISABLED": "true", **variables}


def job_record(local: LocalPipelineStack, job_id: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
    """The jobs table's item of `job_id` once it is in `state`. A report is written before the job's final state
    (the report is what must not be lost), so a test that has read the report waits for the state too."""
    dynamodb, table = local.client("dynamodb"), local.outputs["JobsTableName"]
    deadline = time.monotonic() + timeout
    while True:
        item = dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}}).get("Item")
        if item is not None and item["state"] == {"S": state}:
            return dict(item)
        assert time.monotonic() < deadline, f"job {job_id} not {state} within {timeout} s: {item}"
        time.sleep(POLL_SECONDS)


FINAL_STATES = {"COMPLETED", "CANCELED", "REJECTED", "FAILED", "TIMED_OUT"}


def summary(local: LocalPipelineStack, key: str, lines: int, timeout: float = 60.0) -> dict[str, Any]:
    """results/<request file>.json once it names `lines` requests."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_report(local, key)
        if found is not None and len(found.get("requests", [])) == lines:
            return found
        assert time.monotonic() < deadline, f"no summary of {lines} requests for {key} within {timeout} s: {found}"
        time.sleep(POLL_SECONDS * 4)


def request_reports(local: LocalPipelineStack, key: str, lines: int, timeout: float = 120.0) -> list[dict[str, Any]]:
    """The final report of each request of the file, in the file's order."""
    s3, bucket = local.client("s3"), local.outputs["InboxBucketName"]
    keys = [entry["report_key"] for entry in summary(local, key, lines)["requests"]]
    reports: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(reports) < len(keys):
        for report_key in keys:
            if report_key in reports:
                continue
            try:
                found = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                continue
            if found["state"] in FINAL_STATES:
                reports[report_key] = found
        assert time.monotonic() < deadline, f"{len(reports)} of {len(keys)} reports of {key} within {timeout} s"
        time.sleep(POLL_SECONDS * 4)
    return [reports[k] for k in keys]
