"""`doverunner jobs list|show|stop|retry`: the jobs of a deployed stack (or of the local one, with AWS_ENDPOINT_URL),
found through the stack's outputs. Stopping and retrying are the core's (services/cancel.py, services/holds.py):
this module finds the stack, resolves a job id or an object key to its job, and shapes the output."""

from __future__ import annotations

import argparse
import getpass
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

from antipiracy.adapters.dynamodb import query_all
from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.messaging import SnsResultsTopic, SqsRetryRequests
from antipiracy.adapters.s3_objects import S3Objects
from antipiracy.adapters.step_functions import StepFunctionsExecutions
from antipiracy.domain.jobs import FINAL_STATES, JobState, now_iso
from antipiracy.services.cancel import cancel
from antipiracy.services.holds import Holds, retryable
from antipiracy.services.report import Reports
from antipiracy.services.wake import Waker
from doverunner_cli.stack_outputs import stack_outputs

log = logging.getLogger("doverunner_cli.jobs")

JOB_ID_PREFIX = "job-"
REASON_CHARS = 200
# What `show` leaves out of a job item: the task tokens of its waiting execution (whoever holds one can end a wait).
HIDDEN_FIELDS = frozenset({"wake_token", "task_token"})

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class JobsError(RuntimeError):
    """What the operator is told on stderr (exit code 1): an unknown stack or job, a key naming no single job."""


# ---- options ------------------------------------------------------------------------------------------------


def parse_since(value: str, now: datetime | None = None) -> str:
    """--since as a `created_at` stamp to compare with: an ISO date or time (2026-12-03, 2026-12-03T10:00:00Z; UTC
    unless it says otherwise) or a duration back from now (30m, 2h, 1d, 1h30m; s m h d w)."""
    text = value.strip()
    if text and _DURATION.sub("", text) == "":
        delta = timedelta()
        for amount, unit in _DURATION.findall(text):
            delta += timedelta(**{_UNITS[unit]: int(amount)})
        return now_iso((now or datetime.now(UTC)) - delta)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {value!r} is neither an ISO time (2026-12-03, 2026-12-03T10:00:00Z) nor a duration (30m, 2h, 1d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return now_iso(moment.astimezone(UTC))


# ---- the stack ----------------------------------------------------------------------------------------------


class Deployment:
    """A deployed stack's jobs table and what stopping and retrying need, from its outputs."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.outputs = stack_outputs(stack)
        self.table = boto3.resource("dynamodb").Table(self.output("JobsTableName"))
        self.jobs = JobsTable(self.table)

    def output(self, name: str) -> str:
        if name not in self.outputs:
            raise JobsError(f"the stack {self.stack!r} has no {name} output: is it a DoveRunner detection stack?")
        return self.outputs[name]

    def jobs_of_key(self, key: str) -> list[dict[str, Any]]:
        """Every job of an object key (every version of a video, every request of a request file), newest first."""
        return newest_first(query_all(self.table, FilterExpression=Attr("key").eq(key)))  # the pause has no key

    def job(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobsError(f"no job {job_id}")
        return job

    def reports(self) -> Reports:
        return Reports(S3Objects(boto3.client("s3")), self.output("ResultsPrefix"))

    def holds(self) -> Holds:
        return Holds(self.jobs, retries=SqsRetryRequests(boto3.client("sqs"), self.output("IngestQueueUrl")))


# ---- shaping ------------------------------------------------------------------------------------------------


def newest_first(jobs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(jobs, key=lambda job: (str(job.get("created_at") or ""), str(job.get("job_id"))), reverse=True)


def _truncated(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def row(job: dict[str, Any]) -> dict[str, Any]:
    """A job in one compact line of the listing."""
    compact: dict[str, Any] = {
        "job_id": job.get("job_id"),
        "state": job.get("state"),
        "outcome": job.get("job_outcome"),
        "key": job.get("key"),
    }
    request = job.get("request")
    if isinstance(request, dict):
        compact["line"] = request.get("line")
    compact.update(
        title=job.get("title"),
        method=job.get("method"),
        detection_id=job.get("detection_id"),
        created_at=job.get("created_at"),
        updated_at=job.get("updated_at"),
        reason=_truncated(job.get("reason")),
        report_key=job.get("report_key"),
    )
    return compact


def shown(job: dict[str, Any]) -> dict[str, Any]:
    """The whole job item, minus the task tokens of its execution."""
    return {name: value for name, value in job.items() if name not in HIDDEN_FIELDS and not name.endswith("task_token")}


def _with_report(job: dict[str, Any], s3: S3Objects) -> dict[str, Any]:
    entry: dict[str, Any] = {"job": shown(job), "report": None}
    if job.get("report_key") and job.get("bucket"):
        try:
            found = s3.get_json(str(job["bucket"]), str(job["report_key"]))
        except Exception as exc:  # the job is still worth showing when its report cannot be read
            entry["report_error"] = f"cannot read s3://{job['bucket']}/{job['report_key']}: {exc}"
        else:
            entry["report"] = found[0] if found is not None else None
            if found is None:
                entry["report_error"] = f"no report at s3://{job['bucket']}/{job['report_key']}"
    return entry


# ---- resolving JOB|KEY --------------------------------------------------------------------------------------


def _one(deployment: Deployment, target: str, fits: Callable[[dict[str, Any]], bool], what: str) -> str:
    """The job id `target` names: itself when it is a job id, else the one job of that key that `fits`."""
    if target.startswith(JOB_ID_PREFIX):
        return str(deployment.job(target)["job_id"])
    jobs = _named(deployment, target)
    candidates = [job for job in jobs if fits(job)]
    if len(candidates) == 1:
        return str(candidates[0]["job_id"])
    if not candidates:
        raise JobsError(f"the key {target} has no {what} job; its jobs: {_listed(jobs)}")
    raise JobsError(f"the key {target} has {len(candidates)} {what} jobs, name one: {_listed(candidates)}")


def _named(deployment: Deployment, target: str) -> list[dict[str, Any]]:
    """The job a job id names, or every job of an object key, newest first; JobsError when there is none."""
    if target.startswith(JOB_ID_PREFIX):
        return [deployment.job(target)]
    jobs = deployment.jobs_of_key(target)
    if not jobs:
        raise JobsError(f"no job for the key {target}")
    return jobs


def _listed(jobs: list[dict[str, Any]]) -> str:
    return "; ".join(f"{job['job_id']} ({job.get('state')}, created {job.get('created_at')})" for job in jobs)


def _unfinished(job: dict[str, Any]) -> bool:
    try:
        return JobState(str(job.get("state"))) not in FINAL_STATES
    except ValueError:
        return False


def caller() -> str:
    """Who runs the command: the AWS identity's ARN, else the OS user name."""
    try:
        return str(boto3.client("sts").get_caller_identity()["Arn"])
    except Exception as exc:  # no credentials, no network, an endpoint without STS: the OS user names the operator
        log.debug("STS did not say who calls (%s): using the OS user name", type(exc).__name__)
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        raise JobsError("cannot tell who you are: say it with --by NAME") from None


# ---- commands -----------------------------------------------------------------------------------------------


def list_jobs(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    jobs: Iterable[dict[str, Any]] = (
        deployment.jobs.with_state(JobState(args.state)) if args.state else deployment.jobs.scan()
    )
    since = args.since or None  # already a created_at stamp: parsed by the option's type (main._since)
    matching = newest_first(
        job
        for job in jobs
        if (not args.outcome or job.get("job_outcome") == args.outcome)
        and (since is None or str(job.get("created_at") or "") >= since)
        and (not args.key_prefix or str(job.get("key") or "").startswith(args.key_prefix))
    )
    shown_jobs = matching[: args.limit] if args.limit is not None else matching
    return {
        "total_count": len(matching),
        "paused": deployment.jobs.submission_pause(),
        "jobs": [row(job) for job in shown_jobs],
    }


def show(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    jobs = _named(deployment, args.target)
    s3 = S3Objects(boto3.client("s3"))
    return {"total_count": len(jobs), "jobs": [_with_report(job, s3) for job in jobs]}


def stop(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    job_id = _one(deployment, args.target, _unfinished, "unfinished")
    return cancel(
        job_id,
        by=args.by or caller(),
        why=args.reason,
        jobs=deployment.jobs,
        reports=deployment.reports(),
        results=SnsResultsTopic(boto3.client("sns"), deployment.output("ResultsTopicArn")),
        waker=Waker(deployment.jobs, StepFunctionsExecutions(boto3.client("stepfunctions"))),
    )


def retry(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    holds = deployment.holds()
    by = args.by or caller()
    if args.held:
        return holds.resume(by).as_dict()
    return holds.retry(_one(deployment, args.target, retryable, "retryable (held, or refused by DoveRunner)"), by)


ACTIONS: dict[str, Callable[[Deployment, argparse.Namespace], dict[str, Any]]] = {
    "list": list_jobs,
    "show": show,
    "stop": stop,
    "retry": retry,
}


def run(args: argparse.Namespace) -> Any:
    if args.jobs_action == "retry" and bool(args.held) == bool(args.target):
        raise JobsError("retry takes a job id or an object key, or --held (not both)")
    return ACTIONS[args.jobs_action](Deployment(args.stack), args)
