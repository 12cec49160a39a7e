"""End to end on the local deployment: the synthesized stack in the local AWS, the local DoveRunner behind it,
from an S3 drop to the report next to it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from antipiracy.adapters.web_acls import parse_arn
from antipiracy.domain.jobs import job_id_for
from antipiracy.domain.waf_rules import read_rule, url_safe
from doverunner_local.engine import revoke_token_for
from doverunner_local.samples import write_sample
from doverunner_local.stack import MIB, LocalPipelineStack
from doverunner_local.waf_evaluator import matches


@pytest.fixture(scope="module")
def local() -> Iterator[LocalPipelineStack]:
    with LocalPipelineStack(step_seconds=0.1) as stack:
        yield stack


def video(kind: str = "mp4", *, size: int = 256 * 1024, mark: str | None = None, fail: str | None = None) -> bytes:
    buffer = io.BytesIO()
    write_sample(buffer, kind, size, mark=mark, fail=fail)
    return buffer.getvalue()


def drop(local: LocalPipelineStack, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
    return dict(local.client("s3").put_object(Bucket=local.outputs["InboxBucketName"], Key=key, Body=body, **extra))


def report(local: LocalPipelineStack, key: str, timeout: float = 90.0) -> dict[str, Any]:
    s3 = local.client("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = s3.get_object(Bucket=local.outputs["InboxBucketName"], Key=f"results/{key}.json")["Body"].read()
            return dict(json.loads(body))
        except ClientError:
            time.sleep(0.2)
    raise AssertionError(f"no report for {key} within {timeout}s")


def detections_titled(local: LocalPipelineStack, title: str) -> list[dict[str, Any]]:
    assert local.doverunner is not None
    return [d for d in local.doverunner.emulator.snapshot()["detections"] if d["title"] == title]


def test_upload_detection_goes_from_drop_to_report_with_the_forensic_mark(local: LocalPipelineStack) -> None:
    drop(local, "inbox/e2e-pirated.mp4", video(mark="0000000000000001"))

    result = report(local, "inbox/e2e-pirated.mp4")

    assert (result["state"], result["method"], result["watermark_found"]) == ("COMPLETED", "upload", True)
    assert result["forensic_mark"]["wm_key"] == "0000000000000001"
    assert "sess-1001" in result["forensic_mark"]["wm_data"]
    assert result["input"]["version_id"]
    assert [h["detect_status"] for h in result["history"]][-1] == "FD004"


def test_large_object_goes_through_url_detection_to_report(local: LocalPipelineStack) -> None:
    drop(local, "inbox/e2e-large.mkv", video("mkv", size=9 * MIB, mark="0000000000000002"))

    result = report(local, "inbox/e2e-large.mkv")

    assert (result["method"], result["watermark_found"]) == ("url", True)
    assert detections_titled(local, result["doverunner_title"])[0]["req_type"] == "url"


def test_detection_failure_is_reported_with_the_guides_explanation(local: LocalPipelineStack) -> None:
    drop(local, "inbox/e2e-lowres.mov", video("mov", fail="D004"))

    result = report(local, "inbox/e2e-lowres.mov")

    assert result["final_status"]["detect_status"] == "FD007"
    assert result["error"]["error_code"] == "D004"
    assert result["error"]["description"] == "The resolution is below 480P."
    assert result["error"]["solution"]


@pytest.mark.parametrize(("key", "body"), [("inbox/e2e-trailer.avi", b"RIFF....AVI "), ("inbox/e2e-empty.mp4", b"")])
def test_unsupported_or_empty_object_is_rejected_without_a_doverunner_call(
    local: LocalPipelineStack, key: str, body: bytes
) -> None:
    drop(local, key, body)

    result = report(local, key)

    assert result["state"] == "REJECTED"
    assert result["detection_id"] is None
    assert detections_titled(local, result["doverunner_title"]) == []


def test_same_s3_event_delivered_three_times_gives_one_detection(local: LocalPipelineStack) -> None:
    key = "inbox/e2e-thrice.mp4"
    put = drop(local, key, video())
    first = report(local, key)
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": local.outputs["InboxBucketName"]},
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "eTag": put["ETag"].strip('"'),
                        "versionId": put["VersionId"],
                    },
                },
            }
        ]
    }
    sqs = local.client("sqs")

    for _ in range(2):  # S3's own delivery was the first
        sqs.send_message(QueueUrl=local.outputs["IngestQueueUrl"], MessageBody=json.dumps(event))
    assert local.deployment is not None
    local.deployment.wait_until_queues_drained(timeout=30)

    assert len(detections_titled(local, first["doverunner_title"])) == 1
    executions = local.client("stepfunctions").list_executions(stateMachineArn=local.outputs["StateMachineArn"])
    assert [e["name"] for e in executions["executions"]].count(first["job_id"]) == 1


def test_upload_reset_after_its_last_byte_is_uploaded_again_and_detected_once(local: LocalPipelineStack) -> None:
    # Given DoveRunner's storage resetting the next upload halfway, after the connection took the whole file
    assert local.doverunner is not None
    local.doverunner.config.faults.next_upload_resets = 1

    # When a video is dropped
    drop(local, "inbox/e2e-reset.mp4", video(mark="0000000000000002"))
    result = report(local, "inbox/e2e-reset.mp4")

    # Then it was uploaded again after the bounded time, and detected once
    job = local.client("dynamodb").get_item(
        TableName=local.outputs["JobsTableName"], Key={"job_id": {"S": result["job_id"]}}
    )["Item"]
    assert (result["state"], result["watermark_found"]) == ("COMPLETED", True)
    assert job["uploads"] == {"N": "2"}
    assert len(detections_titled(local, result["doverunner_title"])) == 1


def test_a_report_step_that_fails_leaves_a_fallback_report_with_the_error(local: LocalPipelineStack) -> None:
    # Given a job whose record the report function cannot serialize (a binary value where a map belongs)
    dynamodb = local.client("dynamodb")
    put = drop(local, "inbox/e2e-unreportable.mp4", video())
    job_id = job_id_for(local.outputs["InboxBucketName"], "inbox/e2e-unreportable.mp4", put["VersionId"])
    deadline = time.monotonic() + 30
    while "Item" not in dynamodb.get_item(TableName=local.outputs["JobsTableName"], Key={"job_id": {"S": job_id}}):
        assert time.monotonic() < deadline, "the job was never created"
        time.sleep(0.02)
    dynamodb.update_item(
        TableName=local.outputs["JobsTableName"],
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET revocation = :binary",
        ExpressionAttributeValues={":binary": {"B": b"\x00"}},
    )

    # When its detection ends
    result = report(local, "inbox/e2e-unreportable.mp4")

    # Then the fallback report says the report step failed and why, and the job is FAILED
    job = dynamodb.get_item(TableName=local.outputs["JobsTableName"], Key={"job_id": {"S": job_id}})["Item"]
    assert result["state"] == "FAILED"
    assert result["reason"].startswith("the report step failed: ")
    assert "JSON serializable" in result["error"]["message"]
    assert job["state"] == {"S": "FAILED"}


def test_report_steps_that_all_fail_leave_the_state_machines_own_report(local: LocalPipelineStack) -> None:
    # Given a job whose title (which the fallback report keeps too) no report function can serialize
    dynamodb, table = local.client("dynamodb"), local.outputs["JobsTableName"]
    key = "inbox/e2e-nothing-reportable.mp4"
    put = drop(local, key, video())
    job_id = job_id_for(local.outputs["InboxBucketName"], key, put["VersionId"])
    deadline = time.monotonic() + 30
    while "Item" not in dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}}):
        assert time.monotonic() < deadline, "the job was never created"
        time.sleep(0.02)
    dynamodb.update_item(
        TableName=table,
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET title = :binary",
        ExpressionAttributeValues={":binary": {"B": b"\x00"}},
    )

    result = report(local, key)

    # Then the state machine wrote the report itself, with both failures, and the job is FAILED
    job = dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}})["Item"]
    assert (result["state"], result["job_id"], result["input"]["key"]) == ("FAILED", job_id, key)
    assert "JSON serializable" in result["error"]["report_step"]
    assert "JSON serializable" in result["error"]["fallback_report_step"]
    assert job["state"] == {"S": "FAILED"}


def test_same_bytes_dropped_again_are_a_new_job_with_their_own_detection_and_report(
    local: LocalPipelineStack,
) -> None:
    key, body = "inbox/e2e-again.mp4", video()
    drop(local, key, body)
    first = report(local, key)

    drop(local, key, body)
    deadline = time.monotonic() + 60
    second = report(local, key)
    while second["job_id"] == first["job_id"]:
        assert time.monotonic() < deadline, "the second drop got no report of its own"
        time.sleep(0.2)
        second = report(local, key)

    s3, bucket = local.client("s3"), local.outputs["InboxBucketName"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"results/{key}")["Versions"]
    reported_jobs = {
        json.loads(s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read())["job_id"]
        for v in versions
    }
    assert second["input"]["version_id"] != first["input"]["version_id"]
    assert second["state"] == "COMPLETED"
    assert len(detections_titled(local, first["doverunner_title"])) == 1
    assert len(detections_titled(local, second["doverunner_title"])) == 1
    assert reported_jobs == {first["job_id"], second["job_id"]}  # each job's report is a version of the report object


def test_keys_with_spaces_plus_and_korean_characters_work(local: LocalPipelineStack) -> None:
    key = "inbox/유출 영상 +2화.mp4"
    drop(
        local,
        key,
        video(mark="00000000000000ff"),
        Metadata={"title": quote_plus("유출 영상", safe="").replace("+", "%20")},
    )

    result = report(local, key)

    assert result["input"]["key"] == key
    assert result["title"] == "유출 영상"
    assert result["watermark_found"] is True


def test_every_finished_job_publishes_its_result(local: LocalPipelineStack) -> None:
    sqs, sns = local.client("sqs"), local.client("sns")
    queue_url = sqs.create_queue(QueueName="e2e-results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=local.outputs["ResultsTopicArn"], Protocol="sqs", Endpoint=queue_arn)

    drop(local, "inbox/e2e-event.mp4", video(mark="0000000000000001"))
    result = report(local, "inbox/e2e-event.mp4")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]

    (message,) = [m for m in messages if m["job_id"] == result["job_id"]]
    assert (message["state"], message["watermark_found"]) == ("COMPLETED", True)
    assert message["report"]["key"] == "results/inbox/e2e-event.mp4.json"


def web_acl_rules(local: LocalPipelineStack) -> list[dict[str, Any]]:
    acl = parse_arn(local.outputs["WebAclArn"])
    acl = local.waf_client().get_web_acl(Name=acl.name, Id=acl.id, Scope="CLOUDFRONT")["WebACL"]
    return list(acl["Rules"])


def report_with_revocation(local: LocalPipelineStack, key: str, timeout: float = 60.0) -> dict[str, Any]:
    # The tracker and the revoker each write the report; whichever is second leaves the revocation in it.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = report(local, key, timeout=timeout)
        if result.get("revocation"):
            return result
        time.sleep(0.2)
    raise AssertionError(f"the report of {key} never named a revocation")


def test_pirated_video_ends_with_its_session_blocked_in_waf_and_named_in_the_report(
    local: LocalPipelineStack,
) -> None:
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e2", "session_id=sess-e2e;user_id=pirate-e2e")
    token = url_safe(session.revoke_token)

    drop(local, "inbox/e2e-leak.mp4", video(mark="00000000000000e2"))
    result = report_with_revocation(local, "inbox/e2e-leak.mp4")

    assert result["forensic_mark"]["wm_key"] == "00000000000000e2"
    assert result["revocation"]["token"] == token
    assert result["revocation"]["state"] == "BLOCKED"
    rules = web_acl_rules(local)
    naming = [rule["Name"] for rule in rules for _, tokens in read_rule(rule) if token in tokens]
    assert len(naming) == 1
    assert matches(rules, {}, f"/drm-prefix/{token}.c2Vzc2lvbi1kYXRh/video/segment-42.m4s")
    assert not matches(rules, {}, f"/drm-prefix/{url_safe(revoke_token_for('00000000000000e3'))}.ZGF0YQ/seg.m4s")
    ledger = local.client("dynamodb").get_item(
        TableName=local.outputs["RevocationLedgerTableName"], Key={"token": {"S": token}}, ConsistentRead=True
    )["Item"]
    assert ledger["state"]["S"] == "BLOCKED"
    assert ledger["job_ids"]["SS"] == [result["job_id"]]


def operator(local: LocalPipelineStack, *args: str) -> Any:
    """`doverunner revocations ...` as an operator runs it against the local stack."""
    assert local.aws is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "POWERTOOLS_", "LAMBDA_", "_"))}
    env.update(AWS_ENDPOINT_URL=local.aws.endpoint_url, AWS_DEFAULT_REGION="us-east-1")
    env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    command = [str(Path(sys.executable).with_name("doverunner")), "revocations", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_operator_sees_a_notification_block_in_the_list_and_lifts_it(local: LocalPipelineStack) -> None:
    assert local.doverunner is not None
    session = local.doverunner.emulator.add_session("00000000000000e5", "session_id=sess-e5")
    token = url_safe(session.revoke_token)
    drop(local, "inbox/e2e-operator.mp4", video(mark="00000000000000e5"))
    report_with_revocation(local, "inbox/e2e-operator.mp4")
    listed = {entry["token"]: entry for entry in operator(local, "list", "--state", "BLOCKED")["revocations"]}

    unblocked = operator(local, "unblock", token)

    assert listed[token]["forensic_mark"] == "00000000000000e5"
    assert unblocked == {"unblocked": [token]}
    after = {entry["token"]: entry for entry in operator(local, "list")["revocations"]}
    assert after[token]["state"] == "LIFTED"
    assert not matches(web_acl_rules(local), {}, f"/drm-prefix/{token}.ZGF0YQ/segment-1.m4s")


def test_local_up_prints_where_everything_is_and_serves_until_interrupted() -> None:
    command = [str(Path(sys.executable).with_name("doverunner")), "local", "up", "--step-seconds", "0.1"]
    # As from a user's shell: none of the variables this test process's own local AWS has set.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "POWERTOOLS_", "LAMBDA_", "_"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        if not first:
            raise AssertionError(f"doverunner local up printed nothing: {process.stderr.read()[-3000:]}")
        info = json.loads(first)
        import boto3

        env = {"endpoint_url": info["aws_endpoint_url"], "region_name": info["aws_region"],
               "aws_access_key_id": "local", "aws_secret_access_key": "local"}  # fmt: skip
        s3 = boto3.client("s3", **env)
        s3.put_object(Bucket=info["inbox_bucket"], Key="inbox/up.mp4", Body=video(mark="0000000000000001"))
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline:
            try:
                found = json.loads(
                    s3.get_object(Bucket=info["inbox_bucket"], Key="results/inbox/up.mp4.json")["Body"].read()
                )
            except ClientError:
                time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)

    assert {"aws_endpoint_url", "doverunner_url", "inbox_bucket", "ingest_queue_url", "dead_letter_queue_url",
            "jobs_table", "state_machine_arn", "results_topic_arn", "operator_topic_arn"} <= set(info)  # fmt: skip
    assert found is not None
    assert found["watermark_found"] is True
    assert code == 0
