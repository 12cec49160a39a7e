"""From DoveRunner's notification to the job's result (`make bench-notification`), on the local deployment, beside
a bare SNS-to-SQS delivery of the same run.

    .venv/bin/python bench/notification_latency.py [--videos 8] [--timeout 120]

1. The app deployed into the local AWS with the normal deployment's tracking (notifications registered) and waits
   far longer than the run (first check after 60 s, the safety net's poll every 900 s): a result within seconds can
   only come from DoveRunner's notification waking the job.
2. `--videos` compliant videos with a watermark, dropped one after another, each once the previous one's report is
   written. The local DoveRunner publishes each detection's status notification to the revocation topic; the bench
   records the moment that publish returns, then reads the job (its state COMPLETED) and its report, every 20 ms.
3. The baseline: a message of the same size published to a topic of the bench's own with an SQS queue subscribed,
   until it is received, as many times as there are videos, through the same local AWS.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import threading
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError
from revocation_batch import percentile

from antipiracy.domain.jobs import job_id_for
from doverunner_local.engine import NotificationRecord
from doverunner_local.publisher import sns_publisher
from doverunner_local.samples import write_sample
from doverunner_local.stack import LocalPipelineStack

CONTEXT = {
    "doverunner:initialWaitSeconds": 60,
    "doverunner:maxWaitSeconds": 120,
    "doverunner:notifiedPollSeconds": 900,
    "doverunner:maxTrackingSeconds": 3600,
}
READ_EVERY_SECONDS = 0.02


class Published:
    """The local DoveRunner's publisher, noting when each detection's notification was handed to SNS."""

    def __init__(self, endpoint_url: str) -> None:
        self._publish = sns_publisher(endpoint_url)
        self.at: dict[int, float] = {}
        self._lock = threading.Lock()

    def __call__(self, target: NotificationRecord, message: dict[str, Any]) -> None:
        self._publish(target, message)
        with self._lock:
            self.at[int(message["detection_id"])] = time.monotonic()


def one_video(local: LocalPipelineStack, published: Published, body: bytes, timeout: float) -> dict[str, float]:
    s3, dynamodb = local.client("s3"), local.client("dynamodb")
    bucket, table = local.outputs["InboxBucketName"], local.outputs["JobsTableName"]
    key = f"inbox/bench-{uuid.uuid4().hex[:8]}/woken.mp4"
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    job_id = job_id_for(bucket, key, put["VersionId"])
    deadline = time.monotonic() + timeout
    completed_at = reported_at = None
    detection_id = None
    while completed_at is None or reported_at is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{key} not COMPLETED and reported within {timeout} s")
        item = dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}}, ConsistentRead=True).get("Item", {})
        if "detection_id" in item:
            detection_id = int(item["detection_id"]["N"])
        if completed_at is None and item.get("state", {}).get("S") == "COMPLETED":
            completed_at = time.monotonic()
        if reported_at is None:
            try:
                s3.head_object(Bucket=bucket, Key=f"results/{key}.json")
                reported_at = time.monotonic()
            except ClientError:
                pass
        time.sleep(READ_EVERY_SECONDS)
    if detection_id is None or detection_id not in published.at:
        raise RuntimeError(f"job {job_id} ended without its notification: the safety net, not a notification, ended it")
    notified = published.at[detection_id]
    return {"completed": completed_at - notified, "reported": reported_at - notified}


def bare_deliveries(local: LocalPipelineStack, count: int, size: int) -> list[float]:
    sns, sqs = local.client("sns"), local.client("sqs")
    topic = sns.create_topic(Name=f"bench-bare-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"bench-bare-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    seconds = []
    for _ in range(count):
        started = time.monotonic()
        sns.publish(TopicArn=topic, Message="x" * size)
        received: list[dict[str, Any]] = []
        while not received:
            received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        seconds.append(time.monotonic() - started)
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=received[0]["ReceiptHandle"])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    with LocalPipelineStack(step_seconds=0.3, context=CONTEXT) as local:
        assert local.aws is not None
        assert local.doverunner is not None
        published = Published(local.aws.endpoint_url)
        local.doverunner.emulator.set_publisher(published)
        rows = []
        for n in range(args.videos):
            buffer = io.BytesIO()
            write_sample(buffer, "mp4", mark=f"{n + 1:016x}")
            rows.append(one_video(local, published, buffer.getvalue(), args.timeout))
            print(f"  video {n + 1}: result {rows[-1]['completed']:.2f} s after the notification", file=sys.stderr)
        message_size = len(json.dumps({"detection_id": 1000, "detection_status": "FD004", "watermark_token": "t" * 27}))
        bare = bare_deliveries(local, args.videos, message_size)
    baseline = statistics.median(bare)
    completed = [row["completed"] for row in rows]
    reported = [row["reported"] for row in rows]
    print(
        f"\npython {sys.version.split()[0]}; {args.videos} videos; bare SNS-to-SQS delivery: median {baseline:.3f} s\n"
    )
    print("| from the notification to | p50 s | p99 s | max s | p50 / bare |")
    print("|---|---:|---:|---:|---:|")
    for name, values in (("its report written", reported), ("the job COMPLETED", completed)):
        p50 = percentile(values, 0.5)
        print(f"| {name} | {p50:.2f} | {percentile(values, 0.99):.2f} | {max(values):.2f} | {p50 / baseline:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
