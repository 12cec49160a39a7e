"""Held jobs: DoveRunner refusing the site's quota or credentials holds the job, pauses submissions, tells the
operator; resuming sends every held job once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs, MemoryObjects, MemoryResultsTopic, api_error

from antipiracy.config import PipelineConfig
from antipiracy.domain.holds import HoldKind
from antipiracy.domain.requests import RetryRequest, S3ObjectRef
from antipiracy.services.holds import Holds, NotRetryable, probe
from antipiracy.services.submit import Submitter

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000

BUCKET = "inbox-bucket"  # the services conftest's bucket


@dataclass
class QueuedRetries:
    """The ingest queue's retry requests (adapters/messaging.SqsRetryRequests)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def request_retry(self, job_id: str, requested_by: str) -> None:
        self.sent.append((job_id, requested_by))


@dataclass
class Alerts:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def alert(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


@pytest.fixture
def retries() -> QueuedRetries:
    return QueuedRetries()


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def holds(jobs: MemoryJobs, retries: QueuedRetries, alerts: Alerts) -> Holds:
    return Holds(jobs, retries=retries, alerts=alerts)


@pytest.fixture
def submitter(make_submitter: Callable[..., Submitter], results: MemoryResultsTopic, holds: Holds) -> Submitter:
    return make_submitter(with_results=results, with_holds=holds)


def drop(objects: MemoryObjects, n: int) -> S3ObjectRef:
    return objects.add(BUCKET, f"inbox/video-{n}.mp4", VIDEO)


def resume_and_deliver(holds: Holds, retries: QueuedRetries, submitter: Submitter, by: str = "operator") -> list[Any]:
    """`doverunner jobs retry --held`, then the submit function reading the queued retry requests."""
    holds.resume(by)
    delivered, retries.sent[:] = list(retries.sent), []
    return [submitter.retry(RetryRequest(job_id, who)) for job_id, who in delivered]


def test_a_quota_refusal_holds_the_job_with_a_report_a_result_and_an_alert(
    submitter: Submitter,
    objects: MemoryObjects,
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
    results: MemoryResultsTopic,
    alerts: Alerts,
) -> None:
    doverunner.fail_next(api_error("A4019", "request upload URL"))

    result = submitter.submit(drop(objects, 1))

    job = jobs.require(result.job_id)
    report = objects.document(BUCKET, job["report_key"])
    assert (result.action, job["state"], job["hold"]["kind"], job["hold"]["code"]) == ("held", "HELD", "quota", "A4019")
    assert (report["outcome"], report["error"]["error_code"]) == ("HELD", "A4019")
    assert [(m["outcome"], a["outcome"]) for m, a in results.published] == [("HELD", "HELD")]
    assert [subject for subject, _ in alerts.sent] == ["DoveRunner submissions paused (quota: A4019)"]


@pytest.mark.parametrize("code", ["A1006", "A1007", "A9001", "A9008"])
def test_a_credential_refusal_holds_the_job_and_pauses_submissions(
    submitter: Submitter, objects: MemoryObjects, jobs: MemoryJobs, doverunner: FakeDoveRunner, code: str
) -> None:
    doverunner.fail_next(api_error(code, "request upload URL"))

    result = submitter.submit(drop(objects, 1))

    assert (result.action, (jobs.pause or {}).get("kind")) == ("held", HoldKind.CREDENTIALS.value)


def test_while_paused_new_jobs_are_held_without_a_doverunner_call_and_alerted_once(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner, alerts: Alerts
) -> None:
    doverunner.fail_next(api_error("A4019", "request upload URL"))
    submitter.submit(drop(objects, 0))

    later = [submitter.submit(drop(objects, n)) for n in range(1, 50)]

    assert {r.action for r in later} == {"held"}
    assert len(doverunner.requests) == 1
    assert len(alerts.sent) == 1


def test_quota_exhausted_mid_burst_then_resumed_submits_each_held_job_once(
    submitter: Submitter,
    holds: Holds,
    retries: QueuedRetries,
    objects: MemoryObjects,
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    refs = [drop(objects, n) for n in range(50)]
    first = [submitter.submit(ref) for ref in refs[:20]]
    doverunner.fail_next(api_error("A4019", "request upload URL"))  # the quota runs out at the 21st
    rest = [submitter.submit(ref) for ref in refs[20:]]

    retried = resume_and_deliver(holds, retries, submitter)
    resume_and_deliver(holds, retries, submitter)  # said twice: nothing more to send

    assert {r.action for r in first} == {"submitted"}
    assert {r.action for r in rest} == {"held"}
    assert [r.action for r in retried] == ["submitted"] * 30
    titles = [d["title"] for d in doverunner.detections.values()]
    assert (len(titles), len(set(titles))) == (50, 50)
    assert {job["state"] for job in jobs.items.values()} == {"TRACKING"}


def test_a_retry_request_delivered_twice_sends_the_job_once(
    submitter: Submitter, holds: Holds, retries: QueuedRetries, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    doverunner.fail_next(api_error("A4019", "request upload URL"))
    job_id = submitter.submit(drop(objects, 1)).job_id
    holds.resume("operator")

    once = submitter.retry(RetryRequest(job_id, "operator"))
    twice = submitter.retry(RetryRequest(job_id, "operator"))

    assert (once.action, twice.action) == ("submitted", "duplicate")
    assert len(doverunner.titled(doverunner.requests[-1]["title"])) == 1


def test_still_refused_after_resuming_holds_again_and_pauses_again(
    submitter: Submitter, holds: Holds, retries: QueuedRetries, objects: MemoryObjects, jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:  # fmt: skip
    doverunner.fail_next(api_error("A4019", "request upload URL"))
    held = [submitter.submit(drop(objects, n)) for n in range(3)]
    doverunner.fail_next(api_error("A4019", "request upload URL"))  # not raised yet

    again = resume_and_deliver(holds, retries, submitter)

    assert [r.action for r in again] == ["held"] * 3
    assert jobs.pause is not None
    assert {jobs.require(r.job_id)["state"] for r in held} == {"HELD"}


def test_a_repeated_delivery_of_a_held_object_leaves_it_held(
    submitter: Submitter, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    doverunner.fail_next(api_error("A4019", "request upload URL"))
    ref = drop(objects, 1)
    submitter.submit(ref)

    again = submitter.submit(ref)

    assert (again.action, len(doverunner.requests)) == ("held", 1)


def test_a_job_doverunner_refused_for_itself_can_be_retried_once(
    submitter: Submitter, holds: Holds, retries: QueuedRetries, objects: MemoryObjects, doverunner: FakeDoveRunner
) -> None:
    doverunner.fail_next(api_error("A4023", "request upload URL"))
    job_id = submitter.submit(drop(objects, 1)).job_id

    holds.retry(job_id, "operator")
    results = [submitter.retry(RetryRequest(job_id, by)) for job_id, by in retries.sent * 2]

    assert [r.action for r in results] == ["submitted", "duplicate"]


def test_a_finished_job_is_not_retryable(
    submitter: Submitter, holds: Holds, objects: MemoryObjects, retries: QueuedRetries
) -> None:
    job_id = submitter.submit(drop(objects, 1)).job_id

    with pytest.raises(NotRetryable, match="only a held job, or one DoveRunner refused"):
        holds.retry(job_id, "operator")
    assert retries.sent == []


# ---- the periodic probe ---------------------------------------------------------------------------------------


def paused(jobs: MemoryJobs, kind: HoldKind, since: datetime) -> None:
    jobs.pause_submissions({"kind": kind.value, "code": "A4019", "reason": "r", "since": since.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"), "first_job_id": "job-1"})  # fmt: skip


def test_the_probe_resumes_a_credential_pause_once_doverunner_answers(
    holds: Holds, jobs: MemoryJobs, doverunner: FakeDoveRunner
) -> None:
    paused(jobs, HoldKind.CREDENTIALS, datetime.now(UTC))

    result = probe(holds, lambda: doverunner, quota_probe_seconds=3600)

    assert (result["resumed"], jobs.pause) == (True, None)


def test_the_probe_keeps_a_credential_pause_while_doverunner_refuses(holds: Holds, jobs: MemoryJobs) -> None:
    paused(jobs, HoldKind.CREDENTIALS, datetime.now(UTC))

    def refused() -> Any:
        raise api_error("A9008", "token")

    result = probe(holds, refused, quota_probe_seconds=3600)

    assert result["resumed"] is False
    assert jobs.pause is not None


def test_the_probe_resumes_a_quota_pause_only_after_its_period(holds: Holds, jobs: MemoryJobs) -> None:
    since = datetime.now(UTC) - timedelta(minutes=30)
    paused(jobs, HoldKind.QUOTA, since)

    early = probe(holds, FakeDoveRunner, quota_probe_seconds=3600)
    late = probe(holds, FakeDoveRunner, quota_probe_seconds=3600, now=since + timedelta(hours=1, seconds=1))

    assert (early["resumed"], late["resumed"], jobs.pause) == (False, True, None)


def test_the_probe_does_nothing_when_submissions_are_not_paused(holds: Holds, retries: QueuedRetries) -> None:
    assert probe(holds, FakeDoveRunner, quota_probe_seconds=1) == {"paused": False}
    assert retries.sent == []


def test_a_job_held_for_its_credentials_reads_the_secret_afresh_when_sent_again(
    objects: MemoryObjects,
    jobs: MemoryJobs,
    executions: MemoryExecutions,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
    holds: Holds,
    retries: QueuedRetries,
) -> None:
    asked: list[dict[str, Any]] = []

    def client_factory(**options: Any) -> FakeDoveRunner:
        asked.append(options)
        return doverunner

    submitter = Submitter(
        objects=objects, jobs=jobs, executions=executions, client_factory=client_factory, config=config, holds=holds
    )
    doverunner.fail_next(api_error("A1006", "request upload URL"))
    submitter.submit(drop(objects, 1))

    (result,) = resume_and_deliver(holds, retries, submitter)

    assert result.action == "submitted"
    assert asked == [{}, {"fresh": True}]


def test_the_probe_asks_again_for_a_held_job_left_behind_by_a_resume(
    submitter: Submitter,
    holds: Holds,
    retries: QueuedRetries,
    objects: MemoryObjects,
    jobs: MemoryJobs,
    doverunner: FakeDoveRunner,
) -> None:
    doverunner.fail_next(api_error("A4019", "request upload URL"))
    job_id = submitter.submit(drop(objects, 1)).job_id
    jobs.resume_submissions()  # lifted, but the held job was not seen (the index lagged)

    result = probe(holds, FakeDoveRunner, quota_probe_seconds=3600)

    assert (result, retries.sent) == (
        {"paused": False, "requeued_left_behind": 1},
        [(job_id, "probe (held without a pause)")],
    )
