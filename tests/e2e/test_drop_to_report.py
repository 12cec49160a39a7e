"""End to end on the local deployment: the synthesized stack in the local AWS, the local DoveRunner behind it,
from an S3 drop to the report next to it."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote_plus

import pytest
from aws_clients import unique_name
from deployed_stack import detections_titled, drop, job_record, report, unique_key, video

from antipiracy.domain.jobs import job_id_for
from doverunner_local.stack import MIB, LocalPipelineStack


def version_report(local: LocalPipelineStack, key: str, version_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The report of `key`'s version `version_id` (results/<key>.versions/<version id>.json), once there is one."""
    s3, bucket = local.client("s3"), local.outputs["InboxBucketName"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = s3.get_object(Bucket=bucket, Key=f"results/{key}.versions/{version_id}.json")["Body"].read()
            return dict(json.loads(body))
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, f"no report of {key} version {version_id} after {timeout} s"
            time.sleep(0.2)


def test_upload_detection_goes_from_drop_to_report_with_the_forensic_mark(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-pirated.mp4")
    drop(local, key, video(mark="0000000000000001"))

    result = report(local, key)

    assert (result["state"], result["method"], result["watermark_found"]) == ("COMPLETED", "upload", True)
    assert result["forensic_mark"]["wm_key"] == "0000000000000001"
    assert "sess-1001" in result["forensic_mark"]["wm_data"]
    assert result["input"]["version_id"]
    assert [h["detect_status"] for h in result["history"]][-1] == "FD004"


def test_large_object_goes_through_url_detection_to_report(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-large.mkv")
    drop(local, key, video("mkv", size=50 * MIB, mark="0000000000000002"))

    result = report(local, key)

    assert (result["method"], result["watermark_found"]) == ("url", True)
    assert detections_titled(local, result["doverunner_title"])[0]["req_type"] == "url"


def test_detection_failure_is_reported_with_the_guides_explanation(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-lowres.mov")
    drop(local, key, video("mov", fail="D004"))

    result = report(local, key)

    assert result["final_status"]["detect_status"] == "FD007"
    assert result["error"]["error_code"] == "D004"
    assert result["error"]["description"] == "The resolution is below 480P."
    assert result["error"]["solution"]


@pytest.mark.parametrize(("name", "body"), [("e2e-trailer.avi", b"RIFF....AVI "), ("e2e-empty.mp4", b"")])
def test_unsupported_or_empty_object_is_rejected_without_a_doverunner_call(
    local: LocalPipelineStack, name: str, body: bytes
) -> None:
    key = unique_key(name)
    drop(local, key, body)

    result = report(local, key)

    assert result["state"] == "REJECTED"
    assert result["detection_id"] is None
    assert detections_titled(local, result["doverunner_title"]) == []


def test_same_s3_event_delivered_three_times_gives_one_detection(local: LocalPipelineStack) -> None:
    key = unique_key("e2e-thrice.mp4")
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
    # Given DoveRunner's storage resetting the next upload, unanswered, after the connection took the whole file
    assert local.doverunner is not None
    local.doverunner.config.faults.next_upload_unanswered = 1

    # When a video is dropped
    key = unique_key("e2e-reset.mp4")
    drop(local, key, video(mark="0000000000000002"))
    result = report(local, key)

    # Then it was uploaded again after the bounded time, and detected once
    job = local.client("dynamodb").get_item(
        TableName=local.outputs["JobsTableName"], Key={"job_id": {"S": result["job_id"]}}
    )["Item"]
    assert (result["state"], result["watermark_found"]) == ("COMPLETED", True)
    assert job["uploads"] == {"N": "2"}
    assert len(detections_titled(local, result["doverunner_title"])) == 1


def test_a_report_step_that_fails_leaves_a_fallback_report_with_the_error(local: LocalPipelineStack) -> None:
    # Given a job whose record the report function cannot serialize (a binary value where a map belongs)
    dynamodb, key = local.client("dynamodb"), unique_key("e2e-unreportable.mp4")
    put = drop(local, key, video())
    job_id = job_id_for(local.outputs["InboxBucketName"], key, put["VersionId"])
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
    result = report(local, key)

    # Then the fallback report says the report step failed and why, and the job ends FAILED
    assert result["state"] == "FAILED"
    assert result["reason"].startswith("the report step failed: ")
    assert "JSON serializable" in result["error"]["message"]
    job_record(local, job_id, "FAILED")


def test_report_steps_that_all_fail_leave_the_state_machines_own_report(local: LocalPipelineStack) -> None:
    # Given a job whose title (which the fallback report keeps too) no report function can serialize
    dynamodb, table = local.client("dynamodb"), local.outputs["JobsTableName"]
    key = unique_key("e2e-nothing-reportable.mp4")
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

    result = version_report(local, key, put["VersionId"])

    # Then the state machine wrote the version's report itself, with both failures, and the job is FAILED
    assert (result["state"], result["job_id"], result["input"]["key"]) == ("FAILED", job_id, key)
    assert (result["report_key"], result["current"]) == (f"results/{key}.versions/{put['VersionId']}.json", False)
    assert "JSON serializable" in result["error"]["report_step"]
    assert "JSON serializable" in result["error"]["fallback_report_step"]
    job_record(local, job_id, "FAILED")


def test_same_bytes_dropped_again_are_a_new_job_with_their_own_detection_and_report(
    local: LocalPipelineStack,
) -> None:
    key, body = unique_key("e2e-again.mp4"), video()
    drop(local, key, body)
    first = report(local, key)

    drop(local, key, body)
    second = report(
        local, key, timeout=60, until=lambda r: r["job_id"] != first["job_id"], waiting_for="a report of its own"
    )

    assert second["input"]["version_id"] != first["input"]["version_id"]
    assert second["state"] == "COMPLETED"
    assert len(detections_titled(local, first["doverunner_title"])) == 1
    assert len(detections_titled(local, second["doverunner_title"])) == 1


def test_same_key_dropped_twice_keeps_both_versions_reports_and_the_newest_is_current(
    local: LocalPipelineStack,
) -> None:
    # Given a key dropped twice, the second drop with other bytes
    key = unique_key("e2e-twice.mp4")
    first = drop(local, key, video(mark="0000000000000001"))
    second = drop(local, key, video(mark="0000000000000002"))

    # When both jobs have finished
    firsts = version_report(local, key, first["VersionId"])
    seconds = version_report(local, key, second["VersionId"])
    current = report(local, key, until=lambda r: r["input"]["version_id"] == second["VersionId"])

    # Then each version keeps its own report and the key's current report is the second version's
    assert (firsts["forensic_mark"]["wm_key"], seconds["forensic_mark"]["wm_key"]) == (
        "0000000000000001",
        "0000000000000002",
    )
    assert firsts["job_id"] != seconds["job_id"]
    assert (current["job_id"], current["current"]) == (seconds["job_id"], True)
    assert current["report_key"] == f"results/{key}.versions/{second['VersionId']}.json"


def test_keys_with_spaces_plus_and_korean_characters_work(local: LocalPipelineStack) -> None:
    key = unique_key("유출 영상 +2화.mp4")
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
    queue_url = sqs.create_queue(QueueName=unique_name("e2e-results-"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=local.outputs["ResultsTopicArn"], Protocol="sqs", Endpoint=queue_arn)

    key = unique_key("e2e-event.mp4")
    drop(local, key, video(mark="0000000000000001"))
    result = report(local, key)
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]

    (message,) = [m for m in messages if m["job_id"] == result["job_id"]]
    assert (message["state"], message["watermark_found"]) == ("COMPLETED", True)
    assert message["report"]["key"] == f"results/{key}.versions/{result['input']['version_id']}.json"
    assert message["current_report"]["key"] == f"results/{key}.json"
