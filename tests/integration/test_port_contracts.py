"""The in-memory tables of the unit tier behave as the real ones: the same checks run against MemoryJobs and
JobsTable, and against MemoryLedger and LedgerTable, the real ones over DynamoDB from the local AWS (moto)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from fakes import MemoryJobs, MemoryLedger
from tables import create_jobs_table, create_ledger_table

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.ledger_table import MAX_MESSAGES_KEPT, LedgerTable
from antipiracy.domain.jobs import JobExists, JobState, StateConflict
from antipiracy.domain.notifications import StatusNotification
from antipiracy.domain.revocations import RevocationState, epoch

Jobs = JobsTable | MemoryJobs
Ledger = LedgerTable | MemoryLedger
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOKEN = "c2Vzc2lvbi0wMDAx+/Ab=="


def _dynamodb(endpoint: str) -> Any:
    return boto3.resource(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="y"
    )


@pytest.fixture(params=["memory", "dynamodb"])
def jobs(request: pytest.FixtureRequest) -> Jobs:
    if request.param == "memory":
        return MemoryJobs()
    endpoint = request.getfixturevalue("moto_endpoint")
    return JobsTable(create_jobs_table(_dynamodb(endpoint), f"c{uuid.uuid4().hex[:10]}-jobs"))


@pytest.fixture(params=["memory", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    if request.param == "memory":
        return MemoryLedger()
    endpoint = request.getfixturevalue("moto_endpoint")
    return LedgerTable(create_ledger_table(_dynamodb(endpoint), f"c{uuid.uuid4().hex[:10]}-ledger"))


def new_job(jobs: Jobs, job_id: str = "job-1", **fields: Any) -> dict[str, Any]:
    return jobs.create({"job_id": job_id, "bucket": "inbox-bucket", "key": "inbox/a.mp4", **fields})


def note(detection_id: int | None = 1001, forensic_mark: str | None = None) -> StatusNotification:
    return StatusNotification("1.1", detection_id, "FD004", TOKEN, forensic_mark)


# ---- jobs: create and read --------------------------------------------------------------------------------------


def test_created_job_is_received_with_its_times(jobs: Jobs) -> None:
    created = new_job(jobs, size=10)

    stored = jobs.require("job-1")
    assert created == stored
    assert (stored["state"], stored["size"]) == ("RECEIVED", 10)
    assert stored["created_at"] == stored["updated_at"]


def test_creating_a_job_twice_raises_job_exists_with_the_stored_one(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.update("job-1", {"state": JobState.SUBMITTING.value})

    with pytest.raises(JobExists) as exists:
        new_job(jobs, title="another")

    assert exists.value.job["state"] == "SUBMITTING"
    assert "title" not in jobs.require("job-1")


def test_created_job_is_stored_without_none_values_and_with_whole_floats_as_ints(jobs: Jobs) -> None:
    created = new_job(jobs, version_id=None, meta={"a": None, "b": 1.5}, ratio=2.0)

    stored = jobs.require("job-1")
    assert created["version_id"] is None
    assert "version_id" not in stored
    assert (stored["meta"], stored["ratio"]) == ({"b": 1.5}, 2)


def test_unknown_job_is_none_and_required_a_key_error(jobs: Jobs) -> None:
    assert jobs.get("job-404") is None
    with pytest.raises(KeyError, match="no job job-404"):
        jobs.require("job-404")


def test_job_is_found_by_its_detection(jobs: Jobs) -> None:
    new_job(jobs, "job-1")
    new_job(jobs, "job-2")
    jobs.update("job-2", {"detection_id": 1001})

    found = jobs.find_by_detection(1001)

    assert found is not None
    assert found["job_id"] == "job-2"
    assert jobs.find_by_detection(2002) is None


# ---- jobs: update -----------------------------------------------------------------------------------------------


def test_update_sets_the_fields_and_returns_the_new_job(jobs: Jobs) -> None:
    new_job(jobs)

    updated = jobs.update("job-1", {"state": "SUBMITTING", "uploads": 1})

    assert updated == jobs.require("job-1")
    assert (updated["state"], updated["uploads"], updated["key"]) == ("SUBMITTING", 1, "inbox/a.mp4")


def test_update_with_a_none_field_removes_it_and_drops_none_inside_maps(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.update("job-1", {"last_error": "boom"})

    updated = jobs.update("job-1", {"last_error": None, "error": {"error_code": "A4019", "cause": None}})

    assert "last_error" not in updated
    assert updated["error"] == {"error_code": "A4019"}


def test_update_from_an_expected_state_succeeds(jobs: Jobs) -> None:
    new_job(jobs)

    updated = jobs.update("job-1", {"state": "SUBMITTING"}, expect=(JobState.RECEIVED, JobState.SUBMITTED))

    assert updated["state"] == "SUBMITTING"


def test_update_from_another_state_is_a_conflict_and_changes_nothing(jobs: Jobs) -> None:
    new_job(jobs)
    before = jobs.require("job-1")

    with pytest.raises(StateConflict, match=r"job job-1 is not in \['SUBMITTED', 'TRACKING'\]"):
        jobs.update("job-1", {"state": "SUBMITTING"}, expect=(JobState.SUBMITTED, JobState.TRACKING))

    assert jobs.require("job-1") == before


def test_update_while_match_holds_succeeds(jobs: Jobs) -> None:
    new_job(jobs, uploads=1)

    assert jobs.update("job-1", {"uploads": 2}, match={"uploads": 1})["uploads"] == 2


@pytest.mark.parametrize("stored", [{"uploads": 2}, {}])
def test_update_when_match_does_not_hold_is_a_conflict(jobs: Jobs, stored: dict[str, Any]) -> None:
    new_job(jobs, **stored)

    with pytest.raises(StateConflict, match=r"with \{'uploads': 1\}"):
        jobs.update("job-1", {"uploads": 2}, match={"uploads": 1})


def test_update_while_a_field_is_absent_succeeds_once_and_then_is_a_conflict(jobs: Jobs) -> None:
    new_job(jobs)

    jobs.update("job-1", {"cancel": {"by": "first"}}, absent=("cancel",))
    with pytest.raises(StateConflict):
        jobs.update("job-1", {"cancel": {"by": "second"}}, absent=("cancel",))

    assert jobs.require("job-1")["cancel"] == {"by": "first"}


def test_update_of_an_unknown_job_is_a_conflict_and_creates_nothing(jobs: Jobs) -> None:
    with pytest.raises(StateConflict, match="not in the table"):
        jobs.update("job-404", {"state": "SUBMITTING"})

    assert jobs.get("job-404") is None


def test_update_appends_history(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.update("job-1", {"checks": 1}, history={"detect_status": "FD002", "description": None})

    updated = jobs.update("job-1", {"checks": 2}, history={"detect_status": "FD003"})

    assert updated["history"] == [{"detect_status": "FD002"}, {"detect_status": "FD003"}]


# ---- jobs: waking -----------------------------------------------------------------------------------------------


def test_begin_check_removes_the_mark_and_the_token(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.keep_wake_token("job-1", "token-1", 1)
    jobs.request_wake("job-1")

    job = jobs.begin_check("job-1")

    assert ("wake_requested_at" in job, "wake_token" in job) == (False, False)
    assert job == jobs.require("job-1")


def test_begin_check_of_an_unknown_job_is_a_key_error(jobs: Jobs) -> None:
    with pytest.raises(KeyError, match="no job job-404"):
        jobs.begin_check("job-404")


def test_token_is_kept_when_no_notification_came(jobs: Jobs) -> None:
    new_job(jobs)

    kept = jobs.keep_wake_token("job-1", "token-1", 1)

    job = jobs.require("job-1")
    assert (kept, job["wake_token"], job["wake_attempt"]) == (True, "token-1", 1)


def test_token_is_not_kept_after_a_notification_marked_the_job(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.request_wake("job-1")

    assert jobs.keep_wake_token("job-1", "token-1", 1) is False
    assert "wake_token" not in jobs.require("job-1")


def test_token_of_an_older_wait_is_not_kept_over_a_newer_one(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.keep_wake_token("job-1", "token-3", 3)

    assert jobs.keep_wake_token("job-1", "token-2", 2) is False
    assert jobs.keep_wake_token("job-1", "token-3b", 3) is True


def test_token_for_an_unknown_job_is_not_kept_and_creates_nothing(jobs: Jobs) -> None:
    assert jobs.keep_wake_token("job-404", "token-1", 1) is False
    assert jobs.get("job-404") is None


def test_wake_request_takes_the_kept_token_once(jobs: Jobs) -> None:
    new_job(jobs)
    jobs.keep_wake_token("job-1", "token-1", 1)

    first, second = jobs.request_wake("job-1"), jobs.request_wake("job-1")

    assert (first, second) == ((True, "token-1"), (True, None))
    assert jobs.require("job-1")["wake_requested_at"]


@pytest.mark.parametrize("state", ["COMPLETED", "FAILED", "TIMED_OUT", "REJECTED"])
def test_wake_request_for_a_finished_job_marks_nothing(jobs: Jobs, state: str) -> None:
    new_job(jobs)
    jobs.keep_wake_token("job-1", "token-1", 1)
    jobs.update("job-1", {"state": state})

    assert jobs.request_wake("job-1") == (False, None)
    assert jobs.require("job-1")["wake_token"] == "token-1"


def test_wake_request_for_an_unknown_job_creates_nothing(jobs: Jobs) -> None:
    assert jobs.request_wake("job-404") == (False, None)
    assert jobs.get("job-404") is None


# ---- jobs: listing by state, pausing submissions -----------------------------------------------------------------


def test_jobs_in_a_state_are_listed_oldest_first(jobs: Jobs) -> None:
    for n in (1, 2, 3):
        new_job(jobs, f"job-{n}")
    jobs.update("job-1", {"state": JobState.HELD.value})
    jobs.update("job-3", {"state": JobState.HELD.value})

    held = [job["job_id"] for job in jobs.with_state(JobState.HELD)]

    assert held == ["job-1", "job-3"]


def test_submissions_are_paused_once_and_the_pause_is_lifted_with_what_it_held(jobs: Jobs) -> None:
    record = {"kind": "quota", "code": "A4019", "reason": "r", "since": "2026-12-03T00:00:00.000000Z"}

    first, second = jobs.pause_submissions(record), jobs.pause_submissions({**record, "code": "A4015"})
    paused = jobs.submission_pause()
    lifted, after = jobs.resume_submissions(), jobs.submission_pause()

    assert (first, second) == (True, False)
    assert paused == record
    assert (lifted, after) == (record, None)


def test_the_pause_is_no_job(jobs: Jobs) -> None:
    jobs.pause_submissions({"kind": "quota", "code": "A4019", "reason": "r", "since": "s"})

    assert list(jobs.with_state(JobState.HELD)) == []
    assert jobs.resume_submissions() is not None
    assert jobs.resume_submissions() is None


# ---- the ledger -------------------------------------------------------------------------------------------------


def test_record_keeps_the_token_url_safe_and_as_given(ledger: Ledger) -> None:
    written = ledger.record(TOKEN, RevocationState.BLOCKED, fields={"reason": ""})

    assert written == ledger.get(TOKEN) == ledger.get("c2Vzc2lvbi0wMDAx-_Ab")
    assert (written["token"], written["original_token"], written["state"]) == (
        "c2Vzc2lvbi0wMDAx-_Ab",
        TOKEN,
        "BLOCKED",
    )
    assert (written["reason"], written["updated_at"] > "") == ("", True)


def test_unknown_token_is_none(ledger: Ledger) -> None:
    assert ledger.get(TOKEN) is None


def test_record_gathers_detections_and_jobs_once_each(ledger: Ledger) -> None:
    ledger.record(TOKEN, RevocationState.BLOCKED, note=note(2002), job_id="job-b")
    ledger.record(TOKEN, RevocationState.BLOCKED, note=note(1001), job_id="job-a")

    written = ledger.record(TOKEN, RevocationState.BLOCKED, note=note(2002), job_id="job-b")

    assert (written["detection_ids"], written["job_ids"]) == ([1001, 2002], ["job-a", "job-b"])


def test_record_without_a_detection_or_job_adds_neither(ledger: Ledger) -> None:
    written = ledger.record(TOKEN, RevocationState.BLOCKED, note=note(None))

    assert ("detection_ids" in written, "job_ids" in written) == (False, False)


def test_forensic_mark_is_recorded_only_when_the_notification_has_one(ledger: Ledger) -> None:
    ledger.record(TOKEN, RevocationState.BLOCKED, note=note(forensic_mark="0000000000000001"))

    written = ledger.record(TOKEN, RevocationState.BLOCKED, note=note(forensic_mark=None))

    assert written["forensic_mark"] == "0000000000000001"


def test_messages_are_appended_and_cut_to_4096_characters(ledger: Ledger) -> None:
    ledger.record(TOKEN, RevocationState.BLOCKED, message="first")

    written = ledger.record(TOKEN, RevocationState.BLOCKED, message="x" * 5000)

    assert [len(m["message"]) for m in written["messages"]] == [5, 4096]
    assert all(m["at"] for m in written["messages"])


def test_messages_past_the_limit_keep_the_first_and_the_latest(ledger: Ledger) -> None:
    for number in range(MAX_MESSAGES_KEPT + 1):
        written = ledger.record(TOKEN, RevocationState.BLOCKED, message=f"m{number}")

    stored = ledger.get(TOKEN)
    assert stored is not None
    assert written["messages"] == stored["messages"]
    assert [m["message"] for m in stored["messages"]] == ["m0", *[f"m{n}" for n in range(2, MAX_MESSAGES_KEPT + 1)]]


def test_record_removes_the_fields_named(ledger: Ledger) -> None:
    ledger.record(TOKEN, RevocationState.BLOCKED, fields={"expires_at": "2026-11-24T13:00:00Z", "expires_epoch": 1})

    written = ledger.record(TOKEN, RevocationState.BLOCKED, remove=("expires_at", "expires_epoch"))

    assert ("expires_at" in written, "expires_epoch" in written) == (False, False)


def test_expired_lists_the_blocks_whose_time_is_up_earliest_first(ledger: Ledger) -> None:
    def block(token: str, seconds: int, state: RevocationState = RevocationState.BLOCKED) -> None:
        ledger.record(token, state, fields={"expires_epoch": epoch(NOW + timedelta(seconds=seconds))})

    block("bGF0ZXI-token-000000", -10)
    block("ZWFybGllcg-token-000000", -100)
    block("ZXhhY3RseS1ub3c-token-000000", 0)
    block("bm90LXlldA-token-000000", 10)
    block("bGlmdGVk-token-000000", -100, RevocationState.LIFTED)
    ledger.record("bmV2ZXI-token-000000", RevocationState.BLOCKED)

    expired = ledger.expired(NOW)

    assert [item["token"] for item in expired] == [
        "ZWFybGllcg-token-000000",
        "bGF0ZXI-token-000000",
        "ZXhhY3RseS1ub3c-token-000000",
    ]


def test_all_lists_every_token_by_last_change(ledger: Ledger) -> None:
    ledger.record("Zmlyc3Q-token-000000", RevocationState.BLOCKED)
    ledger.record("c2Vjb25k-token-000000", RevocationState.NOT_VERIFIED)
    ledger.record("Zmlyc3Q-token-000000", RevocationState.LIFTED)

    assert [(item["token"], item["state"]) for item in ledger.all()] == [
        ("c2Vjb25k-token-000000", "NOT_VERIFIED"),
        ("Zmlyc3Q-token-000000", "LIFTED"),
    ]


def test_refusal_expiry_is_kept_until_the_token_is_blocked(ledger: Ledger) -> None:
    # given a token recorded as not verified, with the epoch second DynamoDB's TTL deletes it at
    ledger.record(TOKEN, RevocationState.NOT_VERIFIED, fields={"ttl_epoch": epoch(NOW + timedelta(days=30))})
    kept = ledger.record(TOKEN, RevocationState.REFUSED, fields={"reason": "site: not this site"})

    # when the token is blocked later
    written = ledger.record(TOKEN, RevocationState.BLOCKED, fields={"reason": ""})

    # then the expiry stayed while it was refused, and the block removed it
    assert kept["ttl_epoch"] == epoch(NOW + timedelta(days=30))
    assert "ttl_epoch" not in written
    assert "ttl_epoch" not in (ledger.get(TOKEN) or {})


def test_blocked_record_that_also_names_the_expiry_in_remove_removes_it_once(ledger: Ledger) -> None:
    ledger.record(TOKEN, RevocationState.NOT_VERIFIED, fields={"ttl_epoch": 1})

    written = ledger.record(TOKEN, RevocationState.BLOCKED, remove=("ttl_epoch", "expires_epoch"))

    assert ("ttl_epoch" in written, written["state"]) == (False, "BLOCKED")
