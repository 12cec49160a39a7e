"""`doverunner local up`, as a user runs it: the whole stack deployed locally, its addresses printed, serving until
interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from deployed_stack import POLL_SECONDS, user_environment, video


def test_local_up_prints_where_everything_is_and_serves_until_interrupted() -> None:
    command = [str(Path(sys.executable).with_name("doverunner")), "local", "up", "--step-seconds", "0.1"]
    # As from a user's shell: none of the variables this test process's own local AWS has set.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_environment()
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        if not first:
            raise AssertionError(f"doverunner local up printed nothing: {process.stderr.read()[-3000:]}")
        info = json.loads(first)
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
                time.sleep(POLL_SECONDS)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)

    assert {"aws_endpoint_url", "doverunner_url", "inbox_bucket", "ingest_queue_url", "dead_letter_queue_url",
            "jobs_table", "state_machine_arn", "results_topic_arn", "operator_topic_arn"} <= set(info)  # fmt: skip
    assert found is not None
    assert found["watermark_found"] is True
    assert code == 0
