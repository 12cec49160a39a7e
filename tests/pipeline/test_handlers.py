"""The functions' handlers, as Lambda calls them: events in, configuration from the environment, secret from
Secrets Manager, everything in the local AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from lambda_context import FakeContext
from local_pipeline import REGION, LocalPipeline

from antipiracy import process_cache
from antipiracy.config import ConfigError, PipelineConfig


def clear_caches() -> None:
    process_cache.reset()


@pytest.fixture
def lambda_env(
    pipeline: LocalPipeline, moto_endpoint: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The environment the stack gives the functions, pointing at the local AWS and the local DoveRunner."""
    secrets = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    secret = {
        "site_key": env["DOVERUNNER_SITE_KEY"],
        "access_key": env["DOVERUNNER_ACCESS_KEY"],
        "account_id": env["DOVERUNNER_ACCOUNT_ID"],
    }
    secret_arn = secrets.create_secret(Name=f"{pipeline.bucket}-creds", SecretString=json.dumps(secret))["ARN"]
    values = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "JOBS_TABLE": pipeline.config.jobs_table,
        "DOVERUNNER_SECRET_ID": secret_arn,
        "DOVERUNNER_SITE_ID": "DEMO",
        "DOVERUNNER_API_URL": env["DOVERUNNER_API_URL"],
        "STATE_MACHINE_ARN": pipeline.config.state_machine_arn,
        "RESULTS_TOPIC_ARN": pipeline.config.results_topic_arn,
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    yield secret_arn
    clear_caches()


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_submit_handler_reports_only_the_unprocessable_message_as_failed(
    lambda_env: str, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler

    ref = pipeline.put("inbox/한글 파일 +1.mp4", video_bytes())

    response = lambda_handler(sqs_event(pipeline.s3_event(ref), "not json", {"Records": []}), FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert len(pipeline.executions()) == 1


def test_submit_handler_fails_and_records_why_when_the_secret_is_not_filled(
    lambda_env: str, pipeline: LocalPipeline, moto_endpoint: str, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler

    boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    ).put_secret_value(
        SecretId=lambda_env, SecretString=json.dumps({"site_key": "", "access_key": "", "account_id": ""})
    )
    clear_caches()
    ref = pipeline.put("inbox/a.mp4", video_bytes())

    # Every record failed: Powertools fails the invocation, so the message comes back (and alarms fire).
    with pytest.raises(BatchProcessingError):
        lambda_handler(sqs_event(pipeline.s3_event(ref)), FakeContext())

    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]
    assert job["state"] == "RECEIVED"
    assert "has no site_key, access_key, account_id" in job["last_error"]
    assert pipeline.local.emulator.requests_seen == []


def test_tracker_and_reporter_handlers_follow_a_job_to_its_report(
    lambda_env: str, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from reporter.handler import lambda_handler as report
    from submit.handler import lambda_handler as submit
    from tracker.handler import lambda_handler as track

    ref = pipeline.put("inbox/movie.mp4", video_bytes(mark="0000000000000001"))
    submit(sqs_event(pipeline.s3_event(ref)), FakeContext())
    (execution,) = pipeline.executions()
    state: dict[str, Any] = json.loads(pipeline.sfn.describe_execution(executionArn=execution["executionArn"])["input"])

    for _ in range(200):
        state["check"] = track(state, FakeContext())
        if state["check"]["terminal"]:
            break
        pipeline.local.emulator.wait_idle(0.05)
    summary = report(state, FakeContext())

    assert summary["watermark_found"] is True
    assert summary["report"]["key"] == "results/inbox/movie.mp4.json"


def test_submit_handler_uploads_again_on_trackings_request_from_the_queue(
    lambda_env: str, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler as submit

    pipeline.local.config.faults.next_upload_resets = 1  # the connection took every byte, no answer came
    submit(sqs_event(pipeline.s3_event(pipeline.put("inbox/again.mp4", video_bytes()))), FakeContext())
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]

    response = submit(sqs_event({"type": "doverunner.resubmit", "job_id": job["job_id"], "uploads": 1}), FakeContext())

    assert response == {"batchItemFailures": []}
    assert pipeline.jobs.require(job["job_id"])["uploads"] == 2
    assert len(pipeline.local.emulator.detections) == 1


def test_reporter_handler_writes_the_fallback_report_when_the_report_step_failed(
    lambda_env: str, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from reporter.handler import lambda_handler as report
    from submit.handler import lambda_handler as submit

    submit(sqs_event(pipeline.s3_event(pipeline.put("inbox/movie.mp4", video_bytes()))), FakeContext())
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]
    failure = {"Error": "KeyError", "Cause": json.dumps({"errorMessage": "'history'", "errorType": "KeyError"})}

    summary = report({"job_id": job["job_id"], "check": {}, "report_error": failure}, FakeContext())

    assert summary["state"] == "FAILED"
    assert pipeline.jobs.require(job["job_id"])["reason"] == "the report step failed: 'history'"


def test_waiter_handler_keeps_the_task_token_on_the_job(
    lambda_env: str, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler as submit
    from waiter.handler import lambda_handler as wait

    submit(sqs_event(pipeline.s3_event(pipeline.put("inbox/movie.mp4", video_bytes()))), FakeContext())
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]

    answer = wait({"job_id": job["job_id"], "attempt": 1, "task_token": "token-1"}, FakeContext())

    assert answer == {"waiting": True}
    assert pipeline.jobs.require(job["job_id"])["wake_token"] == "token-1"


@pytest.mark.parametrize("event", [{}, {"job_id": 5}])
def test_tracker_handler_refuses_an_event_without_a_job_id(lambda_env: str, event: dict[str, Any]) -> None:
    from tracker.handler import lambda_handler

    with pytest.raises(ValueError, match="job_id"):
        lambda_handler(event, FakeContext())


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBS_TABLE", raising=False)

    with pytest.raises(ConfigError, match="JOBS_TABLE"):
        PipelineConfig.from_env({"DOVERUNNER_SECRET_ID": "s", "DOVERUNNER_SITE_ID": "DEMO"})
