"""`doverunner jobs`: an operator lists, shows, stops and retries the jobs of a stack found by its outputs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_clients import REGION, unique_name
from tables import create_jobs_table

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.domain.jobs import now_iso
from doverunner_cli.main import EXIT_OTHER, main

RESULTS_PREFIX = "results/"


@dataclass(frozen=True)
class Stack:
    name: str
    jobs: JobsTable
    bucket: str
    s3: Any
    sqs: Any
    ingest_queue_url: str
    results_queue_url: str

    def add_job(self, key: str, state: str, **fields: Any) -> str:
        """A job of `key` moved to `state` with `fields`, as the pipeline leaves it."""
        job_id = f"job-{unique_name('')}{len(key)}"
        self.jobs.create(
            {
                "job_id": job_id,
                "bucket": self.bucket,
                "key": key,
                "version_id": f"v-{job_id[-6:]}",
                "title": key.rsplit("/", 1)[-1],
                "method": "upload",
                "service": "PD002",
            }
        )
        if state != "RECEIVED" or fields:
            self.jobs.update(job_id, {"state": state, **fields})
        return job_id

    def put_report(self, key: str, report: dict[str, Any]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(report).encode())

    def report(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return bodies
            bodies += [json.loads(message["Body"]) for message in got["Messages"]]


@pytest.fixture
def stack(
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Stack:
    """A stack in the local AWS whose outputs name a jobs table, an inbox bucket, an ingest queue and a results
    topic (a queue subscribed to it), as the real one's do."""
    name = unique_name("s")
    table = create_jobs_table(aws_resource("dynamodb"), f"{name}-jobs")
    s3, sqs, sns = aws_client("s3"), aws_client("sqs"), aws_client("sns")
    s3.create_bucket(Bucket=f"{name}-inbox")
    ingest_queue_url = sqs.create_queue(QueueName=f"{name}-ingest")["QueueUrl"]
    results_queue_url = sqs.create_queue(QueueName=f"{name}-results")["QueueUrl"]
    results_queue_arn = sqs.get_queue_attributes(QueueUrl=results_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic_arn = sns.create_topic(Name=f"{name}-results")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=results_queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "JobsTableName": {"Value": f"{name}-jobs"},
            "InboxBucketName": {"Value": f"{name}-inbox"},
            "IngestQueueUrl": {"Value": ingest_queue_url},
            "ResultsTopicArn": {"Value": topic_arn},
            "ResultsPrefix": {"Value": RESULTS_PREFIX},
            "RequestsPrefix": {"Value": "requests/"},
            "StateMachineArn": {"Value": f"arn:aws:states:{REGION}:123456789012:stateMachine:{name}"},
            "OperatorTopicArn": {"Value": f"arn:aws:sns:{REGION}:123456789012:{name}-operator"},
        },
    }
    aws_client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    for key, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return Stack(name, JobsTable(table), f"{name}-inbox", s3, sqs, ingest_queue_url, results_queue_url)


@dataclass(frozen=True)
class Jobs:
    held: str
    completed: str
    tracking: str
    refused: str


COMPLETED_REPORT_KEY = "results/inbox/found.mp4.versions/v1.json"


@pytest.fixture
def jobs(stack: Stack) -> Jobs:
    """One job in each state an operator acts on; the completed one, two days old, with its report in S3."""
    two_days_ago = now_iso(datetime.now(UTC) - timedelta(days=2))
    completed = stack.add_job(
        "inbox/found.mp4",
        "COMPLETED",
        job_outcome="WATERMARK_FOUND",
        detection_id=1001,
        detect_status="FD004",
        report_key=COMPLETED_REPORT_KEY,
        reason="watermark found",
        created_at=two_days_ago,
    )
    stack.put_report(COMPLETED_REPORT_KEY, {"job_id": completed, "outcome": "WATERMARK_FOUND"})
    return Jobs(
        held=stack.add_job(
            "inbox/held.mp4",
            "HELD",
            job_outcome="HELD",
            hold={"kind": "quota", "code": "A4019"},
            reason="held: A4019 quota exceeded",
        ),
        completed=completed,
        tracking=stack.add_job("inbox/tracked.mp4", "TRACKING", detection_id=1002, wake_token="secret-task-token"),
        refused=stack.add_job(
            "inbox/refused.mp4",
            "FAILED",
            job_outcome="REFUSED",
            refused_by_doverunner=True,
            reason="DoveRunner refused the request: A4023",
        ),
    )


def cli(stack: Stack, *args: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["jobs", *args, "--stack", stack.name], out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


# ---- list ---------------------------------------------------------------------------------------------------


def test_list_by_state_shows_only_the_jobs_in_that_state(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "list", "--state", "HELD")

    assert code == 0
    assert [(r["job_id"], r["state"], r["outcome"], r["key"]) for r in result["jobs"]] == [
        (jobs.held, "HELD", "HELD", "inbox/held.mp4")
    ]
    assert (result["total_count"], result["paused"]) == (1, None)


def test_list_by_outcome_shows_only_the_jobs_with_that_outcome(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "list", "--outcome", "WATERMARK_FOUND")

    assert code == 0
    assert [(r["job_id"], r["detection_id"], r["report_key"]) for r in result["jobs"]] == [
        (jobs.completed, 1001, COMPLETED_REPORT_KEY)
    ]


def test_list_since_leaves_out_older_jobs_newest_first(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "list", "--since", "1d")

    assert code == 0
    assert [r["job_id"] for r in result["jobs"]] == [jobs.refused, jobs.tracking, jobs.held]


def test_list_since_an_iso_date_leaves_out_jobs_created_before_it(stack: Stack, jobs: Jobs) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")

    code, result, _ = cli(stack, "list", "--since", yesterday)

    assert code == 0
    assert jobs.completed not in [r["job_id"] for r in result["jobs"]]
    assert result["total_count"] == 3


def test_list_by_key_prefix_shows_only_the_keys_under_it(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "list", "--key-prefix", "inbox/t")

    assert code == 0
    assert [r["key"] for r in result["jobs"]] == ["inbox/tracked.mp4"]


def test_list_shows_the_pause_in_force(stack: Stack, jobs: Jobs) -> None:
    stack.jobs.pause_submissions({"kind": "quota", "code": "A4019", "since": now_iso()})

    _, result, _ = cli(stack, "list", "--limit", "1")

    assert result["paused"]["code"] == "A4019"
    assert (result["total_count"], len(result["jobs"])) == (4, 1)


def test_list_with_a_bad_since_names_the_value(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(stack, "list", "--since", "yesterday")

    assert exited.value.code == 2
    assert "'yesterday'" in capsys.readouterr().err


# ---- show ---------------------------------------------------------------------------------------------------


def test_show_by_id_includes_the_report(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "show", jobs.completed)

    assert code == 0
    assert [(entry["job"]["job_id"], entry["report"]) for entry in result["jobs"]] == [
        (jobs.completed, {"job_id": jobs.completed, "outcome": "WATERMARK_FOUND"})
    ]


def test_show_leaves_out_the_task_token_of_a_waiting_execution(stack: Stack, jobs: Jobs) -> None:
    _, result, _ = cli(stack, "show", jobs.tracking)

    assert result["jobs"][0]["job"]["detection_id"] == 1002
    assert "wake_token" not in result["jobs"][0]["job"]
    assert "secret-task-token" not in json.dumps(result)


def test_show_by_key_gives_every_job_of_the_key_newest_first(stack: Stack, jobs: Jobs) -> None:
    newer = stack.add_job("inbox/found.mp4", "TRACKING", detection_id=1003)

    code, result, _ = cli(stack, "show", "inbox/found.mp4")

    assert code == 0
    assert [entry["job"]["job_id"] for entry in result["jobs"]] == [newer, jobs.completed]


def test_show_of_an_unknown_job_or_key_is_an_error(stack: Stack, jobs: Jobs) -> None:
    by_id = cli(stack, "show", "job-unknown")
    by_key = cli(stack, "show", "inbox/never-dropped.mp4")

    assert by_id == (EXIT_OTHER, None, "doverunner: no job job-unknown\n")
    assert by_key == (EXIT_OTHER, None, "doverunner: no job for the key inbox/never-dropped.mp4\n")


def test_a_missing_stack_is_named_in_the_error(stack: Stack) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = main(["jobs", "list", "--stack", "NoSuchStack"], out=out, err=err)

    assert code == EXIT_OTHER
    assert "NoSuchStack" in err.getvalue()


# ---- stop ---------------------------------------------------------------------------------------------------


def test_stop_of_a_held_job_cancels_it_with_who_and_why_in_its_report_and_result(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "stop", "inbox/held.mp4", "--by", "ops-oncall", "--reason", "dropped by mistake")

    job = stack.jobs.get(jobs.held)
    assert job is not None
    assert (code, result["action"], job["state"], job["job_outcome"]) == (0, "canceled", "CANCELED", "CANCELED")
    assert job["cancel"]["by"] == "ops-oncall"
    report = stack.report(job["report_key"])
    assert (report["state"], report["reason"]) == ("CANCELED", "stopped by ops-oncall: dropped by mistake")
    assert [(m["job_id"], m["state"]) for m in stack.messages(stack.results_queue_url)] == [(jobs.held, "CANCELED")]


def test_stop_of_a_tracked_job_records_the_stop_request(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "stop", jobs.tracking, "--by", "ops-night-shift", "--reason", "wrong file")

    job = stack.jobs.get(jobs.tracking)
    assert job is not None
    assert (code, result["action"], job["state"]) == (0, "stop_requested", "TRACKING")
    assert (job["cancel"]["by"], job["cancel"]["reason"]) == (
        "ops-night-shift",
        "stopped by ops-night-shift: wrong file",
    )


def test_stop_without_by_records_the_callers_aws_identity(stack: Stack, jobs: Jobs) -> None:
    cli(stack, "stop", jobs.tracking)

    job = stack.jobs.get(jobs.tracking)
    assert job is not None
    assert job["cancel"]["by"].startswith("arn:aws:")


def test_stop_of_a_completed_job_is_an_error_and_changes_nothing(stack: Stack, jobs: Jobs) -> None:
    before = stack.jobs.get(jobs.completed)

    code, result, err = cli(stack, "stop", jobs.completed, "--by", "ops-oncall")

    assert (code, result) == (EXIT_OTHER, None)
    assert "has ended already" in err
    assert stack.jobs.get(jobs.completed) == before
    assert stack.report(COMPLETED_REPORT_KEY) == {"job_id": jobs.completed, "outcome": "WATERMARK_FOUND"}


def test_stop_of_a_key_with_two_unfinished_jobs_lists_them(stack: Stack, jobs: Jobs) -> None:
    other = stack.add_job("inbox/tracked.mp4", "SUBMITTED")

    code, _, err = cli(stack, "stop", "inbox/tracked.mp4", "--by", "ops-oncall")

    assert code == EXIT_OTHER
    assert "2 unfinished jobs" in err
    assert jobs.tracking in err
    assert other in err


# ---- retry --------------------------------------------------------------------------------------------------


def test_retry_held_lifts_the_pause_and_asks_once_for_every_held_job(stack: Stack, jobs: Jobs) -> None:
    stack.jobs.pause_submissions({"kind": "quota", "code": "A4019", "since": now_iso()})
    second = stack.add_job("inbox/held-too.mp4", "HELD", job_outcome="HELD")

    code, result, _ = cli(stack, "retry", "--held", "--by", "ops-oncall")

    assert (code, result["requeued"], result["pause_lifted"]["code"]) == (0, 2, "A4019")
    assert stack.jobs.submission_pause() is None
    assert sorted(stack.messages(stack.ingest_queue_url), key=lambda m: m["job_id"]) == sorted(
        (
            {"type": "doverunner.retry", "job_id": job_id, "requested_by": "ops-oncall"}
            for job_id in (jobs.held, second)
        ),
        key=lambda m: m["job_id"],
    )


def test_retry_of_a_refused_job_asks_for_it_once(stack: Stack, jobs: Jobs) -> None:
    code, result, _ = cli(stack, "retry", "inbox/refused.mp4", "--by", "ops-oncall")

    assert (code, result) == (0, {"job_id": jobs.refused, "state": "FAILED", "requeued": True})
    assert stack.messages(stack.ingest_queue_url) == [
        {"type": "doverunner.retry", "job_id": jobs.refused, "requested_by": "ops-oncall"}
    ]


def test_retry_of_a_completed_job_is_an_error_and_asks_nothing(stack: Stack, jobs: Jobs) -> None:
    code, _, err = cli(stack, "retry", jobs.completed, "--by", "ops-oncall")

    assert code == EXIT_OTHER
    assert f"job {jobs.completed} is COMPLETED" in err
    assert stack.messages(stack.ingest_queue_url) == []


# ---- output -------------------------------------------------------------------------------------------------


def test_stdout_holds_only_the_json_result_while_the_core_logs_to_stderr(stack: Stack, jobs: Jobs) -> None:
    command = ["-v", "jobs", "retry", "--held", "--by", "ops-oncall", "--stack", stack.name]

    done = subprocess.run(
        [sys.executable, "-m", "doverunner_cli.main", *command],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["job_ids"] == [jobs.held]
    assert "submissions resumed" in done.stderr
