"""The functions' handlers, as Lambda calls them: events in, configuration from the environment, secret from
Secrets Manager, everything in the local AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fakes import MemoryExecutions
from lambda_context import FakeContext
from lambda_environment import LambdaEnvironment
from lambda_events import sqs_event
from local_pipeline import LocalPipeline

from antipiracy import wiring
from antipiracy.domain.jobs import job_id_for


@pytest.fixture
def lambda_env(lambda_env: LambdaEnvironment, pipeline: LocalPipeline) -> LambdaEnvironment:
    """The pipeline functions' environment: the test's own table, state machine and results topic."""
    lambda_env.set(
        JOBS_TABLE=pipeline.config.jobs_table,
        STATE_MACHINE_ARN=pipeline.config.state_machine_arn,
        RESULTS_TOPIC_ARN=pipeline.config.results_topic_arn,
    )
    return lambda_env


def test_submit_handler_reports_only_the_unprocessable_message_as_failed(
    lambda_env: LambdaEnvironment, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler

    ref = pipeline.put("inbox/한글 파일 +1.mp4", video_bytes())

    response = lambda_handler(sqs_event(pipeline.s3_event(ref), "not json", {"Records": []}), FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert len(pipeline.executions()) == 1


def test_submit_handler_holds_the_job_and_says_why_when_the_secret_is_not_filled(
    lambda_env: LambdaEnvironment,
    pipeline: LocalPipeline,
    aws_client: Callable[..., Any],
    video_bytes: Callable[..., bytes],
) -> None:
    from submit.handler import lambda_handler

    aws_client("secretsmanager").put_secret_value(
        SecretId=lambda_env.secret_arn, SecretString=json.dumps({"site_key": "", "access_key": "", "account_id": ""})
    )
    ref = pipeline.put("inbox/a.mp4", video_bytes())

    # Held, not failed: every job would fail the same way until the secret is filled (docs/pipeline.md#held-jobs).
    lambda_handler(sqs_event(pipeline.s3_event(ref)), FakeContext())

    job = pipeline.jobs.require(job_id_for(ref.bucket, ref.key, ref.version))
    assert (job["state"], job["hold"]["kind"]) == ("HELD", "credentials")
    assert "has no site_key, access_key, account_id" in job["reason"]
    assert pipeline.jobs.submission_pause() is not None
    assert pipeline.local.emulator.requests_seen == []


def test_tracker_and_reporter_handlers_follow_a_job_to_its_report(
    lambda_env: LambdaEnvironment,
    pipeline: LocalPipeline,
    video_bytes: Callable[..., bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reporter.handler import lambda_handler as report
    from submit.handler import lambda_handler as submit
    from tracker.handler import lambda_handler as track

    # Step Functions' callbacks stood in for: what each Check step ended its own task with
    executions = MemoryExecutions()
    monkeypatch.setattr(wiring, "waker_executions", lambda: executions)
    ref = pipeline.put("inbox/movie.mp4", video_bytes(mark="0000000000000001"))
    submit(sqs_event(pipeline.s3_event(ref)), FakeContext())
    (execution,) = pipeline.executions()
    state: dict[str, Any] = json.loads(pipeline.sfn.describe_execution(executionArn=execution["executionArn"])["input"])

    for attempt in range(200):
        token = f"token-{attempt}"
        track({**state, "task_token": token}, FakeContext())
        state["check"] = executions.completed.get(token, {})
        if state["check"].get("terminal"):
            break
        pipeline.local.emulator.wait_idle(0.05)
    summary = report(state, FakeContext())

    assert summary["watermark_found"] is True
    assert summary["report"]["key"] == f"results/inbox/movie.mp4.versions/{ref.version_id}.json"
    assert summary["current_report"]["key"] == "results/inbox/movie.mp4.json"


def test_submit_handler_uploads_again_on_trackings_request_from_the_queue(
    lambda_env: LambdaEnvironment, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler as submit

    # A file of one chunk: the connection took every byte, no answer came
    pipeline.local.config.faults.next_upload_resets = 1
    submit(
        sqs_event(pipeline.s3_event(pipeline.put("inbox/again.mp4", video_bytes(size=64 * 1024, short=True)))),
        FakeContext(),
    )
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]

    response = submit(sqs_event({"type": "doverunner.resubmit", "job_id": job["job_id"], "uploads": 1}), FakeContext())

    assert response == {"batchItemFailures": []}
    assert pipeline.jobs.require(job["job_id"])["uploads"] == 2
    assert len(pipeline.local.emulator.detections) == 1


def test_reporter_handler_writes_the_fallback_report_when_the_report_step_failed(
    lambda_env: LambdaEnvironment, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from reporter.handler import lambda_handler as report
    from submit.handler import lambda_handler as submit

    submit(sqs_event(pipeline.s3_event(pipeline.put("inbox/movie.mp4", video_bytes()))), FakeContext())
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]
    failure = {"Error": "KeyError", "Cause": json.dumps({"errorMessage": "'history'", "errorType": "KeyError"})}

    summary = report({"job_id": job["job_id"], "check": {}, "report_error": failure}, FakeContext())

    assert summary["state"] == "FAILED"
    assert pipeline.jobs.require(job["job_id"])["reason"] == "the report step failed: 'history'"


def test_tracker_handler_with_notifications_keeps_the_task_token_on_the_job(
    lambda_env: LambdaEnvironment, pipeline: LocalPipeline, video_bytes: Callable[..., bytes]
) -> None:
    from submit.handler import lambda_handler as submit
    from tracker.handler import lambda_handler as track

    lambda_env.set(NOTIFICATIONS_REGISTERED="true", POLL_SECONDS="3600")
    pipeline.local.config.step_seconds = 600  # the detection stays running
    submit(sqs_event(pipeline.s3_event(pipeline.put("inbox/movie.mp4", video_bytes()))), FakeContext())
    (job,) = pipeline.dynamodb.Table(pipeline.config.jobs_table).scan()["Items"]

    answer = track({"job_id": job["job_id"], "task_token": "token-1"}, FakeContext())

    assert (answer["then"], answer["wait_seconds"]) == ("waiting for a notification or the poll", 3600)
    assert pipeline.jobs.require(job["job_id"])["wake_token"] == "token-1"


@pytest.mark.parametrize("event", [{}, {"job_id": 5}])
def test_tracker_handler_refuses_an_event_without_a_job_id(
    lambda_env: LambdaEnvironment, event: dict[str, Any]
) -> None:
    from tracker.handler import lambda_handler

    with pytest.raises(ValueError, match="job_id"):
        lambda_handler(event, FakeContext())
