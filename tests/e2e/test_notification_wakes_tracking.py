"""End to end on the local deployment, with waits long enough that polling alone would be slow: DoveRunner's
notification wakes the job's execution, so its report follows DoveRunner's end within seconds."""

from __future__ import annotations

import time

from deployed_stack import POLL_SECONDS, drop, read_report, unique_key, video

from antipiracy.domain.jobs import job_id_for
from doverunner_local.stack import LocalPipelineStack

INITIAL_WAIT_SECONDS = 30  # the deployment's (tests/e2e/conftest.py: NOTIFICATION_WAKES)


def detection_ended(local: LocalPipelineStack, job_id: str) -> bool:
    """Whether DoveRunner's detection of the job has ended (its title ends with the job's id, as dr_title makes it)."""
    assert local.doverunner is not None
    mine = f"#{job_id.removeprefix('job-')[:16]}"
    detections = [d for d in local.doverunner.emulator.snapshot()["detections"] if d["title"].endswith(mine)]
    return bool(detections) and all(d["detect_status"] in ("FD004", "FD006", "FD007") for d in detections)


def test_notification_wakes_the_job_so_its_report_follows_doverunner_within_seconds(
    local_waiting_long: LocalPipelineStack,
) -> None:
    local = local_waiting_long
    assert local.context["doverunner:initialWaitSeconds"] == INITIAL_WAIT_SECONDS
    key = unique_key("e2e-woken.mp4")
    put = drop(local, key, video(mark="0000000000000001"))
    job_id = job_id_for(local.outputs["InboxBucketName"], key, put["VersionId"])
    dropped = time.monotonic()
    ended_at: float | None = None
    result = None
    while result is None and time.monotonic() - dropped < INITIAL_WAIT_SECONDS:
        if ended_at is None and detection_ended(local, job_id):
            ended_at = time.monotonic()
        result = read_report(local, key)
        time.sleep(POLL_SECONDS)
    reported_at = time.monotonic()

    # then the report came before the first wait could have ended, a few seconds after DoveRunner's end
    assert result is not None, f"no report within {INITIAL_WAIT_SECONDS}s: the notification did not wake the job"
    assert ended_at is not None
    assert (result["state"], result["watermark_found"]) == ("COMPLETED", True)
    assert reported_at - ended_at < 10
    # one Check found it running, the woken one found it ended
    assert result["times"]["checks"] == 2
