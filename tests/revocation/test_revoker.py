"""Acting on notifications: verify, block once, record why; expiry lifts blocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_clients import unique_name
from fakes import MemoryBlocker
from lambda_events import watermark_found
from tables import create_jobs_table, create_ledger_table

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.ledger_table import LedgerTable
from antipiracy.domain.notifications import parse_message
from antipiracy.domain.revocations import RevocationState
from antipiracy.domain.waf_rules import url_safe
from antipiracy.services.revoke import Revoker
from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner


@dataclass
class World:
    ledger: LedgerTable
    jobs: JobsTable
    blocker: MemoryBlocker
    revoker: Callable[..., Revoker]
    local: LocalDoveRunner
    now: list[datetime]
    ended: Callable[..., int]  # a detection that really ended (tests/revocation/conftest.py)
    # (job id, what the job said of the notification) for each wake asked for
    wakes: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture
def world(
    aws_resource: Callable[..., Any],
    local_doverunner: LocalDoveRunner,
    client: DoveRunnerClient,
    ended_detection: Callable[..., int],
) -> World:
    dynamodb = aws_resource("dynamodb")
    name = unique_name("r")
    ledger = create_ledger_table(dynamodb, f"{name}-ledger")
    jobs_table = create_jobs_table(dynamodb, f"{name}-jobs")
    jobs = JobsTable(jobs_table)
    blocker = MemoryBlocker()
    now = [datetime(2026, 11, 24, 12, 0, tzinfo=UTC)]
    wakes: list[tuple[str, Any]] = []

    class RecordingWaker:
        def wake(self, job_id: str) -> None:
            job = jobs.require(job_id)
            wakes.append((job_id, job.get("notified_status") or job.get("revocation", {}).get("state")))

    def make(block_seconds: int = 3600) -> Revoker:
        return Revoker(
            ledger=LedgerTable(ledger),
            client_factory=lambda: client,
            blocker=blocker,
            jobs=jobs,
            block_seconds=block_seconds,
            site_id=client.config.site_id,
            clock=lambda: now[0],
            waker=RecordingWaker(),
        )

    return World(LedgerTable(ledger), jobs, blocker, make, local_doverunner, now, ended_detection, wakes)


def token_of(local: LocalDoveRunner, mark: str = "0000000000000001") -> str:
    return local.emulator.sessions[mark].revoke_token


def handle(world: World, message: str, **kwargs: Any) -> Any:
    return world.revoker(**kwargs).handle(parse_message(message), message)


def verifications(local: LocalDoveRunner) -> int:
    return sum(1 for r in local.emulator.requests_seen if r.get("operation") == "verify")


def test_verified_token_is_blocked_and_recorded_with_its_expiry(world: World) -> None:
    token = token_of(world.local)
    detection = world.ended()

    result = handle(world, watermark_found(detection, token))

    entry = world.ledger.get(token)
    assert result.action == "blocked"
    assert world.blocker.blocked == {url_safe(token)}
    assert entry is not None
    assert (entry["state"], entry["detection_ids"], entry["expires_at"]) == (
        "BLOCKED",
        [detection],
        "2026-11-24T13:00:00Z",
    )
    assert entry["verified_at"]
    assert entry["blocked_at"]
    kept = json.loads(entry["messages"][0]["message"])
    assert (kept["detection_id"], "UnsubscribeURL" in kept, "Message" in kept) == (detection, False, False)


def test_same_message_three_times_blocks_once_and_succeeds(world: World) -> None:
    token = token_of(world.local)
    detection = world.ended()

    actions = [handle(world, watermark_found(detection, token)).action for _ in range(3)]

    assert actions == ["blocked", "already_blocked", "already_blocked"]
    assert [c for c in world.blocker.calls if c[0] == "block"] == [("block", [token])]
    assert verifications(world.local) == 1


def test_same_token_from_two_detections_is_blocked_once_and_names_both(world: World) -> None:
    token = token_of(world.local)
    first, second = world.ended(), world.ended()

    handle(world, watermark_found(first, token))
    handle(world, watermark_found(second, token))

    entry = world.ledger.get(token)
    assert entry is not None
    assert entry["detection_ids"] == [first, second]
    assert len(world.blocker.calls) == 1


def test_token_that_fails_verification_is_recorded_not_blocked(world: World) -> None:
    result = handle(world, watermark_found(world.ended(), "bm90LWEtc2Vzc2lvbg=="))

    entry = world.ledger.get("bm90LWEtc2Vzc2lvbg==")
    assert result.action == "not_verified"
    assert world.blocker.blocked == set()
    assert entry is not None
    assert entry["state"] == "NOT_VERIFIED"
    assert "is_valid=false" in entry["reason"]
    assert entry["ttl_epoch"] > int(world.now[0].timestamp())


def test_version_1_0_message_blocks_its_token(world: World, client: DoveRunnerClient) -> None:
    token = token_of(world.local, "0000000000000002")

    result = handle(world, json.dumps({"revoke_token": token, "site_id": client.config.site_id}))

    assert result.action == "blocked"
    assert world.blocker.blocked == {url_safe(token)}


def test_version_1_0_message_of_another_site_blocks_nothing(world: World) -> None:
    token = token_of(world.local, "0000000000000002")

    result = handle(world, json.dumps({"revoke_token": token, "site_id": "ANOTHER-SITE"}))

    entry = world.ledger.get(token)
    assert entry is not None
    assert (result.action, entry["state"], entry["refused_check"]) == ("refused", "REFUSED", "site")
    assert (world.blocker.calls, verifications(world.local)) == ([], 0)


def test_valid_token_under_a_detection_doverunner_does_not_know_blocks_nothing(world: World) -> None:
    world.jobs.create({"job_id": "job-9", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-9", {"detection_id": 987654, "state": "COMPLETED"})
    before = world.jobs.require("job-9")

    result = handle(world, watermark_found(987654, token_of(world.local)))

    entry = world.ledger.get(token_of(world.local))
    assert entry is not None
    assert (result.action, entry["state"], entry["refused_check"]) == ("refused", "REFUSED", "detection")
    assert world.blocker.calls == []
    assert world.jobs.require("job-9") == before
    assert world.wakes == []


def test_detection_whose_forensic_mark_differs_blocks_nothing(world: World) -> None:
    detection = world.ended(mark="0000000000000002")

    result = handle(world, watermark_found(detection, token_of(world.local), "0000000000000001"))

    assert (result.action, world.blocker.calls) == ("refused", [])


def test_no_room_left_is_recorded_and_blocks_nothing(world: World) -> None:
    world.blocker.capacity = 0
    token = token_of(world.local)

    result = handle(world, watermark_found(world.ended(), token))

    entry = world.ledger.get(token)
    assert result.action == "no_room"
    assert entry is not None
    assert entry["state"] == "CAPACITY_EXCEEDED"
    assert "no room" in entry["reason"]


def failure(detection_id: int, status: str) -> str:
    return json.dumps(
        {"detection_id": detection_id, "detection_status": status, "error_code": "D2001", "error_message": "failed"}
    )


@pytest.mark.parametrize("status", ["FD006", "FD007"])
def test_failure_notification_updates_the_job_and_blocks_nothing(world: World, status: str) -> None:
    detection = world.ended(status)
    world.jobs.create({"job_id": "job-1", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-1", {"detection_id": detection})

    result = handle(world, failure(detection, status))

    job = world.jobs.require("job-1")
    assert (result.action, result.job_id) == ("recorded", "job-1")
    assert (job["notified_status"], job["notified_error"]["error_code"]) == (status, "D2001")
    assert world.blocker.calls == []


def test_forged_failure_for_a_detection_that_completed_changes_no_job(world: World) -> None:
    detection = world.ended()
    world.jobs.create({"job_id": "job-5", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-5", {"detection_id": detection, "state": "COMPLETED"})
    before = world.jobs.require("job-5")

    result = handle(world, failure(detection, "FD007"))

    assert (result.action, result.job_id) == ("refused", None)
    assert world.jobs.require("job-5") == before
    assert world.wakes == []


def test_block_of_a_tracked_detection_is_noted_on_its_job(world: World) -> None:
    detection = world.ended()
    world.jobs.create({"job_id": "job-2", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-2", {"detection_id": detection})
    token = token_of(world.local)

    handle(world, watermark_found(detection, token))

    assert world.jobs.require("job-2")["revocation"]["state"] == "BLOCKED"
    entry = world.ledger.get(token)
    assert entry is not None
    assert entry["job_ids"] == ["job-2"]


def test_notification_wakes_its_jobs_execution_once_it_is_recorded(world: World) -> None:
    detection = world.ended()
    world.jobs.create({"job_id": "job-3", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-3", {"detection_id": detection})

    handle(world, watermark_found(detection, token_of(world.local)))

    assert world.wakes == [("job-3", "BLOCKED")]


def test_failure_notification_wakes_its_jobs_execution_too(world: World) -> None:
    detection = world.ended("FD006")
    world.jobs.create({"job_id": "job-4", "bucket": "b", "key": "inbox/a.mp4"})
    world.jobs.update("job-4", {"detection_id": detection})

    handle(world, failure(detection, "FD006"))

    assert world.wakes == [("job-4", "FD006")]


def test_notification_about_a_detection_not_submitted_here_blocks_and_wakes_nothing(world: World) -> None:
    result = handle(world, watermark_found(world.ended(), token_of(world.local)))

    assert (result.action, result.job_id) == ("blocked", None)
    assert world.wakes == []


def test_expired_blocks_are_lifted_and_others_kept(world: World) -> None:
    first, second = token_of(world.local), token_of(world.local, "0000000000000002")
    handle(world, watermark_found(world.ended(), first), block_seconds=60)
    world.now[0] += timedelta(seconds=30)
    handle(world, watermark_found(world.ended(mark="0000000000000002"), second, "0000000000000002"), block_seconds=60)
    world.now[0] += timedelta(seconds=45)

    lifted = world.revoker(block_seconds=60).lift_expired()

    assert lifted == [url_safe(first)]
    assert world.blocker.blocked == {url_safe(second)}
    entry = world.ledger.get(first)
    assert entry is not None
    assert entry["state"] == RevocationState.LIFTED.value


def test_block_that_never_expires_is_never_lifted(world: World) -> None:
    token = token_of(world.local)
    detection = world.ended()
    handle(world, watermark_found(detection, token), block_seconds=60)
    world.revoker().unblock([token])
    handle(world, watermark_found(detection, token), block_seconds=0)
    world.now[0] += timedelta(days=3650)

    assert world.revoker(block_seconds=0).lift_expired() == []
    assert world.blocker.blocked == {url_safe(token)}


def test_operator_can_block_and_unblock_by_hand(world: World) -> None:
    revoker = world.revoker()
    token = "Zm9vYmFyLXNlc3Npb24+/=="

    revoker.block_manually(token, "seen on a pirate site")
    revoker.unblock([token])

    entry = world.ledger.get(token)
    assert entry is not None
    assert entry["state"] == "LIFTED"
    assert world.blocker.blocked == set()
