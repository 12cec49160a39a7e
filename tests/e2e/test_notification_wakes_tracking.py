"""End to end on the local deployment, with waits long enough that polling alone would be slow: DoveRunner's
notification wakes the job's execution, so its report follows DoveRunner's end within seconds."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from doverunner_local.samples import write_sample
from doverunner_local.stack import LocalPipelineStack

INITIAL_WAIT_SECONDS = 30
# A detection takes four steps: the first Check (right after the upload) finds it running, then waits 30 s.
STEP_SECONDS = 1.0


@pytest.fixture(scope="module")
def local() -> Iterator[LocalPipelineStack]:
    context = {"doverunner:initialWaitSeconds": INITIAL_WAIT_SECONDS, "doverunner:maxWaitSeconds": 60}
    with LocalPipelineStack(step_seconds=STEP_SECONDS, context=context) as stack:
        yield stack


def pirated_video() -> bytes:
    buffer = io.BytesIO()
    write_sample(buffer, "mp4", 256 * 1024, mark="0000000000000001")
    return buffer.getvalue()


def detection_ended(local: LocalPipelineStack) -> bool:
    assert local.doverunner is not None
    detections = local.doverunner.emulator.snapshot()["detections"]
    return bool(detections) and all(d["detect_status"] in ("FD004", "FD006", "FD007") for d in detections)


def read_report(local: LocalPipelineStack, key: str) -> dict[str, Any] | None:
    try:
        body = local.client("s3").get_object(Bucket=local.outputs["InboxBucketName"], Key=f"results/{key}.json")
    except ClientError:
        return None
    return dict(json.loads(body["Body"].read()))


def test_notification_wakes_the_job_so_its_report_follows_doverunner_within_seconds(
    local: LocalPipelineStack,
) -> None:
    key = "inbox/e2e-woken.mp4"
    local.client("s3").put_object(Bucket=local.outputs["InboxBucketName"], Key=key, Body=pirated_video())
    dropped = time.monotonic()
    ended_at: float | None = None
    result = None
    while result is None and time.monotonic() - dropped < INITIAL_WAIT_SECONDS:
        if ended_at is None and detection_ended(local):
            ended_at = time.monotonic()
        result = read_report(local, key)
        time.sleep(0.1)
    reported_at = time.monotonic()

    # then the report came before the first wait could have ended, a few seconds after DoveRunner's end
    assert result is not None, f"no report within {INITIAL_WAIT_SECONDS}s: the notification did not wake the job"
    assert ended_at is not None
    assert (result["state"], result["watermark_found"]) == ("COMPLETED", True)
    assert reported_at - ended_at < 10
    # one Check found it running, the woken one found it ended
    assert result["times"]["checks"] == 2
