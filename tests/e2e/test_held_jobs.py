"""End to end on the local deployment: DoveRunner refusing the site's quota or credentials holds the jobs, pauses
submissions and alerts the operator; after the cause is fixed, `doverunner jobs retry --held` sends each held job
once. Each test has a deployment of its own (tests/e2e/conftest.py): the pause, the quota and the secret are the
stack's."""

from __future__ import annotations

import json
import uuid

from deployed_stack import drop, read_report, video
from jobs_cli import doverunner, jobs_in, received, set_doverunner, subscribe_queue, wait_for

from doverunner_local.stack import LocalPipelineStack

FINAL = {"COMPLETED", "CANCELED", "REJECTED", "FAILED", "TIMED_OUT"}


def reports_of(local: LocalPipelineStack, keys: list[str]) -> dict[str, dict[str, object]]:
    found = {key: read_report(local, key) for key in keys}
    return {key: report for key, report in found.items() if report is not None}


def test_quota_exhausted_mid_burst_holds_the_rest_then_each_is_submitted_once_after_retry_held(
    local_for_quota: LocalPipelineStack,
) -> None:
    local = local_for_quota
    alerts = subscribe_queue(local, "OperatorTopicArn")
    folder = uuid.uuid4().hex[:8]
    keys = [f"inbox/{folder}/burst-{n:02d}.mp4" for n in range(50)]
    set_doverunner(local, detection_quota=20)
    try:
        # Short clips, sent with the pre-flight check off: 50 compliant videos would be 2 GB through the local
        # S3 for a test of the quota; DoveRunner fails each (D002), which spends a detection all the same.
        for key in keys:
            drop(local, key, video(short=True), Metadata={"preflight": "off"})
        held = wait_for(
            "20 reports and 30 held",
            lambda: (
                (r := reports_of(local, keys))
                and len(r) == 50
                and sum(x["outcome"] == "HELD" for x in r.values()) == 30
                and r
            ),
            timeout=240,
        )
        paused = doverunner(local, "jobs", "list", "--state", "HELD")
        set_doverunner(local, detection_quota=None)  # the account manager raises the quota

        resumed = doverunner(local, "jobs", "retry", "--held", "--by", "ops@example.com")

        final = wait_for(
            "50 final reports",
            lambda: (r := reports_of(local, keys)) and all(x["state"] in FINAL for x in r.values()) and r,
            timeout=240,
        )
    finally:
        set_doverunner(local, detection_quota=None)
        doverunner(local, "jobs", "retry", "--held", "--by", "test cleanup")
    held_reports = [r for r in held.values() if r["outcome"] == "HELD"]
    assert {r["hold"]["code"] for r in held_reports} == {"A4019"}
    assert paused["paused"]["kind"] == "quota"
    assert (resumed["requeued"], resumed["pause_lifted"]["code"]) == (30, "A4019")
    assert {r["outcome"] for r in final.values()} == {"NOT_DETECTABLE"}
    assert local.doverunner is not None
    titles = [d["title"] for d in local.doverunner.emulator.snapshot()["detections"] if d["title"].startswith("burst-")]
    assert (len(titles), len(set(titles))) == (50, 50)
    (alert,) = received(local, alerts)  # one alert for the pause, not one per held job
    assert alert.startswith("DoveRunner refused the site's quota: A4019")


def test_wrong_credentials_hold_the_job_and_alert_then_it_is_submitted_after_the_secret_is_fixed(
    local_for_credentials: LocalPipelineStack,
) -> None:
    local = local_for_credentials
    alerts = subscribe_queue(local, "OperatorTopicArn")
    secrets = local.client("secretsmanager")
    secret_id = local.outputs["DoveRunnerSecretArn"]
    good = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    wrong = {**json.loads(good), "site_key": "x" * 32}  # the operator pasted another site's key
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(wrong))
    key = f"inbox/{uuid.uuid4().hex[:8]}/credentials.mp4"
    try:
        drop(local, key, video(mark="0000000000000001"))
        held = wait_for("the held report", lambda: (r := read_report(local, key)) and r["outcome"] == "HELD" and r)
        alert_bodies = wait_for("the operator's alert", lambda: received(local, alerts))
        secrets.put_secret_value(SecretId=secret_id, SecretString=good)  # fixed

        resumed = doverunner(local, "jobs", "retry", "--held", "--by", "ops@example.com")

        final = wait_for("the final report", lambda: (r := read_report(local, key)) and r["state"] in FINAL and r)
    finally:
        secrets.put_secret_value(SecretId=secret_id, SecretString=good)
    assert (held["hold"]["kind"], held["error"]["error_code"]) == ("credentials", "A1006")
    assert [body.split("\n")[0] for body in alert_bodies] == [
        "DoveRunner refused the site's credentials: A1006 Site key decryption failed"
    ]
    assert resumed["requeued"] == 1
    assert (final["state"], final["outcome"]) == ("COMPLETED", "WATERMARK_FOUND")
    assert jobs_in(local, "HELD") == []
