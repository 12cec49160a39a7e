"""Acting on DoveRunner's notifications: verify the leaking session's token, block it once, keep a ledger."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryBlocker, MemoryExecutions, MemoryJobs, MemoryLedger, MemoryObjects, api_error

from antipiracy.domain.notifications import StatusNotification, parse_message
from antipiracy.domain.revocations import RevocationResult
from antipiracy.domain.waf_rules import url_safe
from antipiracy.services.report import Reports
from antipiracy.services.revoke import REFUSAL_TTL_SECONDS, Revoker
from antipiracy.services.wake import Waker
from doverunner import TransportError, describe_error
from doverunner.models import TokenVerification

TOKEN = "c2Vzc2lvbi0wMDAx+/Ab=="  # base64 with the characters the CDN path carries URL-safe
OTHER_TOKEN = "c2Vzc2lvbi0wMDAy"
MARK = "0000000000000001"
SITE = "DEMO"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
REFUSAL_EXPIRES = int(NOW.timestamp()) + REFUSAL_TTL_SECONDS


@dataclass
class Revocation:
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    blocker: MemoryBlocker = field(default_factory=MemoryBlocker)
    doverunner: FakeDoveRunner = field(default_factory=FakeDoveRunner)
    jobs: MemoryJobs = field(default_factory=MemoryJobs)
    executions: MemoryExecutions = field(default_factory=MemoryExecutions)
    objects: MemoryObjects = field(default_factory=MemoryObjects)
    now: list[datetime] = field(default_factory=lambda: [NOW])

    def revoker(self, block_seconds: int = 3600) -> Revoker:
        return Revoker(
            ledger=self.ledger,
            client_factory=lambda: self.doverunner,
            blocker=self.blocker,
            block_seconds=block_seconds,
            site_id=SITE,
            jobs=self.jobs,
            clock=lambda: self.now[0],
            reports=Reports(self.objects, "results/"),
            waker=Waker(self.jobs, self.executions),
        )

    def handle(self, message: str, block_seconds: int = 3600) -> RevocationResult:
        return self.revoker(block_seconds).handle(parse_message(message), message)

    def found(self, detection_id: int, status: str = "FD004", mark: str = MARK, **extra: str) -> int:
        """A detection DoveRunner's detail API knows, ended with `status` (FD004: with the forensic mark `mark`)."""
        marks = {"wm_key": mark} if status == "FD004" else {"error_code": "D001", "error_message": "download"}
        return self.doverunner.add("movie.mp4", status=status, detection_id=detection_id, **{**marks, **extra})

    def job(self, job_id: str, detection_id: int, **fields: Any) -> str:
        self.jobs.create({"job_id": job_id, "bucket": "inbox-bucket", "key": "inbox/movie.mp4"})
        self.jobs.update(job_id, {"state": "TRACKING", "detection_id": detection_id, **fields})
        return job_id


@pytest.fixture
def world() -> Revocation:
    world = Revocation()
    world.doverunner.valid_tokens = {TOKEN, OTHER_TOKEN}
    world.found(1001)
    world.found(2002)
    return world


def inner_fd004(detection_id: int, token: str = TOKEN, mark: str = MARK) -> str:
    message = {
        "detection_id": detection_id,
        "detection_status": "FD004",
        "forensic_mark": mark,
        "watermark_token": token,
    }
    return json.dumps(message)


def fd004(detection_id: int, token: str = TOKEN, mark: str = MARK) -> str:
    """As SQS delivers it from SNS: the envelope, with the fields the ledger must not keep."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:us-east-1:111111111111:revocations",
            "Message": inner_fd004(detection_id, token, mark),
            "Signature": "c2lnbmF0dXJl",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn",
        }
    )


def failure(detection_id: int, status: str) -> str:
    return json.dumps(
        {"detection_id": detection_id, "detection_status": status, "error_code": "D001", "error_message": "download"}
    )


# ---- a notification that names a session -----------------------------------------------------------------------


def test_verified_token_is_blocked_in_its_url_safe_form(world: Revocation) -> None:
    result = world.handle(fd004(1001))

    assert (result.action, result.token) == ("blocked", "c2Vzc2lvbi0wMDAx-_Ab")
    assert world.blocker.blocked == {url_safe(TOKEN)}


def test_block_is_recorded_in_the_ledger_with_its_expiry_and_detection(world: Revocation) -> None:
    message = fd004(1001)

    world.handle(message)

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (entry["state"], entry["original_token"], entry["detection_ids"]) == ("BLOCKED", TOKEN, [1001])
    assert (entry["expires_at"], entry["expires_epoch"]) == ("2026-11-24T13:00:00Z", int(NOW.timestamp()) + 3600)
    assert (entry["forensic_mark"], entry["messages"][0]["message"]) == (MARK, inner_fd004(1001))
    assert entry["verified_at"] <= entry["blocked_at"]


def test_block_that_never_expires_records_no_expiry(world: Revocation) -> None:
    world.handle(fd004(1001), block_seconds=0)

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert ("expires_at" in entry, "expires_epoch" in entry) == (False, False)


def test_repeated_notification_is_already_blocked_without_a_second_verification(world: Revocation) -> None:
    actions = [world.handle(fd004(1001)).action for _ in range(3)]

    assert actions == ["blocked", "already_blocked", "already_blocked"]
    assert world.doverunner.verified == [TOKEN]
    assert [call for call in world.blocker.calls if call[0] == "block"] == [("block", [TOKEN])]


def test_same_token_from_a_second_detection_names_both_in_the_ledger(world: Revocation) -> None:
    world.handle(fd004(1001))
    world.handle(fd004(2002))

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert entry["detection_ids"] == [1001, 2002]


def test_token_doverunner_does_not_verify_is_recorded_and_nothing_blocked(world: Revocation) -> None:
    world.doverunner.valid_tokens = set()

    result = world.handle(fd004(1001))

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["state"]) == ("not_verified", "NOT_VERIFIED")
    assert "is_valid=false" in entry["reason"]
    assert world.blocker.calls == []


def test_no_room_left_is_recorded_as_capacity_exceeded_and_nothing_blocked(world: Revocation) -> None:
    world.blocker.capacity = 0

    result = world.handle(fd004(1001))

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["state"]) == ("no_room", "CAPACITY_EXCEEDED")
    assert "no room" in entry["reason"]
    assert world.blocker.blocked == set()


def test_a_token_refused_for_capacity_is_blocked_when_room_is_made(world: Revocation) -> None:
    world.blocker.capacity = 0
    world.handle(fd004(1001))
    world.blocker.capacity = 1

    result = world.handle(fd004(1001))

    assert result.action == "blocked"
    assert world.doverunner.verified == [TOKEN, TOKEN]


def test_version_1_0_message_blocks_its_token(world: Revocation) -> None:
    result = world.handle(json.dumps({"revoke_token": OTHER_TOKEN, "site_id": SITE}))

    assert result.action == "blocked"
    assert world.blocker.blocked == {OTHER_TOKEN}


def test_completed_detection_without_a_token_blocks_nothing(world: Revocation) -> None:
    note = StatusNotification(version="1.1", detection_id=1001, detection_status="FD004")

    result = world.revoker().handle(note, "{}")

    assert result.action == "nothing_to_block"
    assert (world.blocker.calls, world.ledger.items) == ([], {})


# ---- the job behind the detection -------------------------------------------------------------------------------


def test_block_of_a_tracked_detection_is_noted_on_its_job(world: Revocation) -> None:
    job_id = world.job("job-1", 1001)

    result = world.handle(fd004(1001))

    revocation = world.jobs.require(job_id)["revocation"]
    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert result.job_id == job_id
    assert (revocation["token"], revocation["state"]) == (url_safe(TOKEN), "BLOCKED")
    assert entry["job_ids"] == [job_id]


def test_finished_jobs_report_is_written_again_with_the_revocation(world: Revocation) -> None:
    job_id = world.job("job-1", 1001, report_key="results/inbox/movie.mp4.json")
    world.jobs.update(job_id, {"state": "COMPLETED"})

    world.handle(fd004(1001))

    report = world.objects.document("inbox-bucket", "results/inbox/movie.mp4.json")
    assert (report["state"], report["revocation"]["state"]) == ("COMPLETED", "BLOCKED")


def test_unfinished_jobs_report_is_left_to_its_report_step(world: Revocation) -> None:
    world.job("job-1", 1001)

    world.handle(fd004(1001))

    assert world.objects.documents == {}


def test_waiting_execution_of_the_job_is_woken_after_the_record(world: Revocation) -> None:
    job_id = world.job("job-1", 1001)
    world.jobs.keep_wake_token(job_id, "token-of-the-wait", 1)

    world.handle(fd004(1001))

    assert world.executions.woken == [("token-of-the-wait", job_id)]


def test_notification_of_a_detection_of_no_job_wakes_nothing(world: Revocation) -> None:
    result = world.handle(fd004(1001))

    assert result.job_id is None
    assert world.executions.woken == []


@pytest.mark.parametrize("status", ["FD006", "FD007"])
def test_failure_notification_is_recorded_on_the_job_and_blocks_nothing(world: Revocation, status: str) -> None:
    world.found(77, status)
    job_id = world.job("job-1", 77)

    result = world.handle(failure(77, status))

    job = world.jobs.require(job_id)
    assert (result.action, result.job_id) == ("recorded", job_id)
    assert (job["notified_status"], job["notified_error"]["error_code"]) == (status, "D001")
    assert job["notified_error"]["description"] == describe_error("D001").description
    assert (world.blocker.calls, world.doverunner.verified) == ([], [])


def test_failure_notified_as_fd007_is_confirmed_by_a_detail_that_says_fd006(world: Revocation) -> None:
    # Given a detection the detail API reports failed with FD006 (the guide's only failure status)
    world.found(77, "FD006")
    job_id = world.job("job-1", 77)

    # When DoveRunner notifies its failure as FD007
    result = world.handle(failure(77, "FD007"))

    # Then the failure is recorded on the job, not refused
    assert (result.action, world.jobs.require(job_id)["notified_status"]) == ("recorded", "FD007")


def test_failure_notification_wakes_the_jobs_execution(world: Revocation) -> None:
    world.found(77, "FD006")
    job_id = world.job("job-1", 77)
    world.jobs.keep_wake_token(job_id, "token-of-the-wait", 1)

    world.handle(failure(77, "FD006"))

    assert world.executions.woken == [("token-of-the-wait", job_id)]


# ---- lifting blocks ---------------------------------------------------------------------------------------------


def test_expired_block_is_lifted_and_recorded(world: Revocation) -> None:
    world.handle(fd004(1001), block_seconds=3600)
    world.now[0] = NOW + timedelta(seconds=3600)

    lifted = world.revoker().lift_expired()

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert lifted == [url_safe(TOKEN)]
    assert world.blocker.blocked == set()
    assert (entry["state"], entry["reason"]) == ("LIFTED", "block expired")


def test_block_not_yet_expired_stays(world: Revocation) -> None:
    world.handle(fd004(1001), block_seconds=3600)
    world.now[0] = NOW + timedelta(seconds=3599)

    lifted = world.revoker().lift_expired()

    assert lifted == []
    assert world.blocker.blocked == {url_safe(TOKEN)}
    assert [call[0] for call in world.blocker.calls] == ["block"]


def test_operator_block_needs_no_verification(world: Revocation) -> None:
    world.doverunner.valid_tokens = set()

    result = world.revoker().block_manually(TOKEN, "seen on a pirate site")

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["state"], entry["reason"]) == ("blocked", "BLOCKED", "seen on a pirate site")
    assert world.doverunner.verified == []
    assert world.blocker.blocked == {url_safe(TOKEN)}


def test_operator_block_that_never_expires_drops_an_earlier_expiry(world: Revocation) -> None:
    world.handle(fd004(1001), block_seconds=3600)

    world.revoker(block_seconds=0).block_manually(TOKEN, "")

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (entry["reason"], "expires_epoch" in entry) == ("blocked by an operator", False)


def test_operator_unblock_lifts_the_block_and_records_why(world: Revocation) -> None:
    world.handle(fd004(1001))

    lifted = world.revoker().unblock([TOKEN], "a false positive")

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert lifted == [url_safe(TOKEN)]
    assert world.blocker.blocked == set()
    assert (entry["state"], entry["reason"]) == ("LIFTED", "a false positive")


# ---- the evidence a notification needs --------------------------------------------------------------------------


def test_genuine_1_1_notification_confirmed_by_the_detail_api_is_blocked(world: Revocation) -> None:
    # given DoveRunner's detail API knows detection 1001 of this site, FD004, with the message's mark
    # when its notification arrives
    result = world.handle(fd004(1001))

    # then the detail API was asked and the token, verified, is blocked
    assert (result.action, world.doverunner.details, world.doverunner.verified) == ("blocked", [1001], [TOKEN])
    assert world.blocker.blocked == {url_safe(TOKEN)}


def test_version_1_0_message_of_another_site_blocks_nothing(world: Revocation) -> None:
    # given a 1.0 message naming a site that is not this stack's
    message = json.dumps({"revoke_token": OTHER_TOKEN, "site_id": "ANOTHER-SITE"})

    # when it is handled
    result = world.handle(message)

    # then nothing is verified or blocked, and the ledger says which check failed, to expire in 30 days
    entry = world.ledger.get(OTHER_TOKEN)
    assert entry is not None
    assert (result.action, entry["state"], entry["refused_check"]) == ("refused", "REFUSED", "site")
    assert "ANOTHER-SITE" in entry["reason"]
    assert entry["ttl_epoch"] == REFUSAL_EXPIRES
    assert (world.blocker.calls, world.doverunner.verified) == ([], [])


def test_valid_token_under_a_detection_doverunner_does_not_know_changes_nothing(world: Revocation) -> None:
    # given a finished job with a report, whose detection DoveRunner's detail API does not know
    job_id = world.job("job-1", 5555, report_key="results/inbox/movie.mp4.json")
    world.jobs.update(job_id, {"state": "COMPLETED"})
    world.jobs.keep_wake_token(job_id, "token-of-the-wait", 1)
    before = world.jobs.require(job_id)

    # when a notification names that detection with a token DoveRunner would verify
    result = world.handle(fd004(5555))

    # then nothing is blocked, the job and its report are untouched, and the refusal names the check
    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, result.job_id, entry["refused_check"]) == ("refused", None, "detection")
    assert "A4009" in entry["reason"]
    assert (world.blocker.calls, world.doverunner.verified) == ([], [])
    assert world.jobs.require(job_id) == before
    assert (world.objects.documents, world.executions.woken) == ({}, [])
    assert "detection_ids" not in entry


def test_detection_whose_forensic_mark_differs_blocks_nothing(world: Revocation) -> None:
    # given detection 1001's wm_key is 0000000000000001 and a job tracks it
    job_id = world.job("job-1", 1001)

    # when a notification for it carries another mark
    result = world.handle(fd004(1001, mark="00000000000000ff"))

    # then nothing is blocked or verified and the job is not told of a revocation
    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["state"], entry["refused_check"]) == ("refused", "REFUSED", "forensic_mark")
    assert (world.blocker.calls, world.doverunner.verified) == ([], [])
    assert "revocation" not in world.jobs.require(job_id)


def test_fd004_for_a_detection_still_detecting_blocks_nothing(world: Revocation) -> None:
    # given a detection DoveRunner still reports as detecting (FD003)
    world.found(3003, "FD003", wm_key=MARK)

    # when a notification claims it completed
    result = world.handle(fd004(3003))

    # then it is refused on its status
    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["refused_check"]) == ("refused", "status")
    assert world.blocker.calls == []


def test_forged_fd007_for_a_detection_that_completed_changes_no_job_or_report(world: Revocation) -> None:
    # given a COMPLETED job with its report, whose detection 1001 really ended FD004
    job_id = world.job("job-1", 1001, report_key="results/inbox/movie.mp4.json")
    world.jobs.update(job_id, {"state": "COMPLETED"})
    world.jobs.keep_wake_token(job_id, "token-of-the-wait", 1)
    before = world.jobs.require(job_id)

    # when an FD007 notification for it arrives
    result = world.handle(failure(1001, "FD007"))

    # then the job, its report and its execution are left alone
    assert (result.action, result.job_id) == ("refused", None)
    assert "FD004" in result.detail
    assert world.jobs.require(job_id) == before
    assert (world.objects.documents, world.executions.woken) == ({}, [])


def test_forged_notification_naming_a_blocked_token_keeps_the_block_and_its_expiry(world: Revocation) -> None:
    # given a token blocked from a genuine detection
    world.handle(fd004(1001))

    # when a notification naming a detection DoveRunner does not know carries the same token
    result = world.handle(fd004(5555))

    # then the block stays as it was, with the refusal noted beside it
    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert (result.action, entry["state"], entry["detection_ids"]) == ("refused", "BLOCKED", [1001])
    assert entry["expires_epoch"] == int(NOW.timestamp()) + 3600
    assert entry["last_refusal"]["check"] == "detection"
    assert "ttl_epoch" not in entry


def test_detail_api_in_passing_trouble_is_retried_not_refused(world: Revocation) -> None:
    # given DoveRunner's detail API fails with an error worth retrying
    def failing_detail(detection_id: int, *, service: str | None = None) -> Any:
        raise api_error("A4006", "detection detail")

    world.doverunner.detail = failing_detail  # type: ignore[method-assign]

    # when a notification arrives, then the failure propagates (the queue delivers the message again)
    with pytest.raises(Exception, match="A4006"):
        world.handle(fd004(1001))
    assert (world.ledger.items, world.blocker.calls) == ({}, [])


# ---- what the ledger keeps --------------------------------------------------------------------------------------


def test_ledger_keeps_the_inner_notification_never_the_sns_envelope(world: Revocation) -> None:
    world.handle(fd004(1001))

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    (kept,) = [m["message"] for m in entry["messages"]]
    assert kept == inner_fd004(1001)
    assert not any(word in kept for word in ("UnsubscribeURL", "Signature", "SigningCertURL", "TopicArn"))


def test_ledger_keeps_a_raw_delivered_notification_as_it_came(world: Revocation) -> None:
    world.handle(inner_fd004(1001))

    entry = world.ledger.get(TOKEN)
    assert entry is not None
    assert entry["messages"][0]["message"] == inner_fd004(1001)


def test_not_verified_token_expires_from_the_ledger_until_it_is_blocked(world: Revocation) -> None:
    # given a token DoveRunner does not verify yet
    world.doverunner.valid_tokens = set()
    world.handle(fd004(1001))
    refused = world.ledger.get(TOKEN)

    # when it verifies later and is blocked
    world.doverunner.valid_tokens = {TOKEN}
    world.handle(fd004(1001))

    # then the NOT_VERIFIED item carried the TTL and the BLOCKED one does not
    blocked = world.ledger.get(TOKEN)
    assert refused is not None
    assert blocked is not None
    assert (refused["state"], refused["ttl_epoch"]) == ("NOT_VERIFIED", REFUSAL_EXPIRES)
    assert (blocked["state"], "ttl_epoch" in blocked, "refused_check" in blocked) == ("BLOCKED", False, False)


# ---- a batch: checked concurrently, blocked with one web ACL write -----------------------------------------------


def batch_of(world: Revocation, count: int, first_detection: int = 5001) -> list[tuple[StatusNotification, str]]:
    """`count` FD004 notifications of detections DoveRunner knows, each naming a session of its own."""
    batch = []
    for n in range(count):
        token = base64.b64encode(f"session-{n:04d}".encode()).decode()
        world.doverunner.valid_tokens.add(token)
        message = fd004(world.found(first_detection + n), token)
        batch.append((parse_message(message), message))
    return batch


class ConcurrentDoveRunner(FakeDoveRunner):
    """Answers a verification only once `parties` of them are waiting together: called one after another, they
    would each give up after `timeout` seconds with BrokenBarrierError."""

    def __init__(self, parties: int, timeout: float = 10.0) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=timeout)

    def verify_token(self, revoke_token: str) -> TokenVerification:
        self.barrier.wait()
        return super().verify_token(revoke_token)


def test_a_batch_of_ten_new_sessions_is_blocked_with_one_web_acl_change(world: Revocation) -> None:
    batch = batch_of(world, 10)

    results = world.revoker().handle_batch(batch)

    assert [r.action for r in results if isinstance(r, RevocationResult)] == ["blocked"] * 10
    assert [call for call, _ in world.blocker.calls] == ["block"]
    assert len(world.blocker.blocked) == 10


def test_a_batchs_tokens_are_verified_concurrently(world: Revocation) -> None:
    world.doverunner = ConcurrentDoveRunner(parties=10)
    batch = batch_of(world, 10)

    results = world.revoker().handle_batch(batch)

    assert [r.action for r in results if isinstance(r, RevocationResult)] == ["blocked"] * 10


def test_a_notification_whose_check_fails_alone_fails_alone_and_the_rest_are_blocked(world: Revocation) -> None:
    batch = batch_of(world, 3)
    world.doverunner.detections.pop(5002)  # its detail call will answer A4009: refused, not failed
    world.doverunner.valid_tokens.discard(batch[2][0].watermark_token or "")

    results = world.revoker().handle_batch(batch)

    assert [r.action for r in results if isinstance(r, RevocationResult)] == ["blocked", "refused", "not_verified"]
    assert len(world.blocker.blocked) == 1


def test_a_verification_that_cannot_be_made_fails_only_its_notification(
    world: Revocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = batch_of(world, 3)
    unreachable = batch[1][0].watermark_token
    verify = world.doverunner.verify_token

    def flaky(token: str) -> TokenVerification:
        if token == unreachable:
            raise TransportError("DoveRunner token verification: connection reset", maybe_processed=False)
        return verify(token)

    monkeypatch.setattr(world.doverunner, "verify_token", flaky)

    results = world.revoker().handle_batch(batch)

    assert isinstance(results[1], TransportError)
    assert [r.action for r in (results[0], results[2]) if isinstance(r, RevocationResult)] == ["blocked", "blocked"]
    assert [call for call, _ in world.blocker.calls] == ["block"]


def test_a_web_acl_that_cannot_be_written_fails_every_notification_waiting_on_it(
    world: Revocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [*batch_of(world, 2), (parse_message(failure(1001, "FD007")), failure(1001, "FD007"))]

    def unreachable(tokens: list[str]) -> object:
        raise ConnectionError("WAF unreachable")

    monkeypatch.setattr(world.blocker, "block", unreachable)

    results = world.revoker().handle_batch(batch)

    assert [type(r).__name__ for r in results] == ["ConnectionError", "ConnectionError", "RevocationResult"]
    assert world.ledger.all() == []


def test_when_a_batch_does_not_all_fit_those_that_fit_are_blocked_and_the_rest_refused_for_room(
    world: Revocation,
) -> None:
    world.blocker.capacity = 2
    batch = batch_of(world, 3)

    results = world.revoker().handle_batch(batch)

    assert [r.action for r in results if isinstance(r, RevocationResult)] == ["blocked", "blocked", "no_room"]
    assert len(world.blocker.blocked) == 2


def test_the_same_session_twice_in_a_batch_is_blocked_once_and_repeated_once(world: Revocation) -> None:
    message = fd004(1001)
    again = fd004(2002)

    results = world.revoker().handle_batch([(parse_message(message), message), (parse_message(again), again)])

    assert [r.action for r in results if isinstance(r, RevocationResult)] == ["blocked", "already_blocked"]
    assert world.ledger.get(TOKEN)["detection_ids"] == [1001, 2002]  # type: ignore[index]
