"""Acting on DoveRunner's notifications: verify the leaking session's token, block it once, keep a ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryBlocker, MemoryExecutions, MemoryJobs, MemoryLedger, MemoryObjects

from antipiracy.domain.notifications import StatusNotification, parse_message
from antipiracy.domain.revocations import RevocationResult
from antipiracy.domain.waf_rules import url_safe
from antipiracy.services.report import Reports
from antipiracy.services.revoke import Revoker
from antipiracy.services.wake import Waker
from doverunner import describe_error

TOKEN = "c2Vzc2lvbi0wMDAx+/Ab=="  # base64 with the characters the CDN path carries URL-safe
OTHER_TOKEN = "c2Vzc2lvbi0wMDAy"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


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
            jobs=self.jobs,
            clock=lambda: self.now[0],
            reports=Reports(self.objects, "results/"),
            waker=Waker(self.jobs, self.executions),
        )

    def handle(self, message: str, block_seconds: int = 3600) -> RevocationResult:
        return self.revoker(block_seconds).handle(parse_message(message), message)

    def job(self, job_id: str, detection_id: int, **fields: Any) -> str:
        self.jobs.create({"job_id": job_id, "bucket": "inbox-bucket", "key": "inbox/movie.mp4"})
        self.jobs.update(job_id, {"state": "TRACKING", "detection_id": detection_id, **fields})
        return job_id


@pytest.fixture
def world() -> Revocation:
    world = Revocation()
    world.doverunner.valid_tokens = {TOKEN, OTHER_TOKEN}
    return world


def fd004(detection_id: int, token: str = TOKEN) -> str:
    message = {
        "detection_id": detection_id,
        "detection_status": "FD004",
        "forensic_mark": "0000000000000001",
        "watermark_token": token,
    }
    return json.dumps({"Type": "Notification", "Message": json.dumps(message)})


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
    assert (entry["forensic_mark"], entry["messages"][0]["message"]) == ("0000000000000001", message)
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
    result = world.handle(json.dumps({"revoke_token": OTHER_TOKEN, "site_id": "DEMO"}))

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
    job_id = world.job("job-1", 77)

    result = world.handle(failure(77, status))

    job = world.jobs.require(job_id)
    assert (result.action, result.job_id) == ("recorded", job_id)
    assert (job["notified_status"], job["notified_error"]["error_code"]) == (status, "D001")
    assert job["notified_error"]["description"] == describe_error("D001").description
    assert (world.blocker.calls, world.doverunner.verified) == ([], [])


def test_failure_notification_wakes_the_jobs_execution(world: Revocation) -> None:
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
