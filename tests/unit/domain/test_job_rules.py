"""Jobs' ids, titles and times: plain rules, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antipiracy.domain.jobs import (
    FINAL_STATES,
    UNFINISHED_STATES,
    JobState,
    dr_title,
    job_id_for,
    now_iso,
    seconds_since,
    uploads_of,
)

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9-]{1,80}$")  # what Step Functions takes as an execution name
MOMENT = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


def test_job_id_of_an_object_version_is_stable() -> None:
    assert job_id_for("bucket", "inbox/a.mp4", "v1") == job_id_for("bucket", "inbox/a.mp4", "v1")


@pytest.mark.parametrize(
    "other",
    [("bucket2", "inbox/a.mp4", "v1"), ("bucket", "inbox/b.mp4", "v1"), ("bucket", "inbox/a.mp4", "v2")],
)
def test_job_id_differs_for_another_bucket_key_or_version(other: tuple[str, str, str]) -> None:
    assert job_id_for(*other) != job_id_for("bucket", "inbox/a.mp4", "v1")


def test_job_id_parts_cannot_be_shifted_into_one_another() -> None:
    assert job_id_for("b", "a/c", "v") != job_id_for("b", "a", "c/v")


@settings(max_examples=50, deadline=None)
@given(bucket=st.text(min_size=1), key=st.text(min_size=1), version=st.text())
def test_job_id_is_a_valid_execution_name_for_any_object(bucket: str, key: str, version: str) -> None:
    job_id = job_id_for(bucket, key, version)

    assert EXECUTION_NAME.match(job_id)
    assert job_id.startswith("job-")
    assert len(job_id) == 44


def test_doverunner_title_is_the_title_tagged_with_the_job() -> None:
    job_id = job_id_for("bucket", "inbox/a.mp4", "v1")

    assert dr_title("해적판 EP1", job_id) == f"해적판 EP1 #{job_id[4:20]}"


def test_doverunner_titles_of_two_jobs_with_one_title_differ() -> None:
    first, second = job_id_for("b", "inbox/a.mp4", "v1"), job_id_for("b", "inbox/a.mp4", "v2")

    assert dr_title("same", first) != dr_title("same", second)


def test_seconds_since_counts_to_the_moment_given() -> None:
    assert seconds_since(now_iso(MOMENT), MOMENT + timedelta(seconds=90, microseconds=500)) == 90.0005


def test_seconds_since_a_later_stamp_is_negative() -> None:
    assert seconds_since(now_iso(MOMENT + timedelta(seconds=5)), MOMENT) == -5.0


def test_stamps_are_utc_with_microseconds_and_sort_as_text() -> None:
    earlier, later = now_iso(MOMENT), now_iso(MOMENT + timedelta(microseconds=1))

    assert earlier == "2026-11-24T12:00:00.123456Z"
    assert earlier < later


@pytest.mark.parametrize(("job", "uploads"), [({}, 0), ({"uploads": None}, 0), ({"uploads": 3}, 3)])
def test_uploads_of_a_job_default_to_none_made(job: dict[str, object], uploads: int) -> None:
    assert uploads_of(job) == uploads


def test_every_state_is_final_or_unfinished_never_both() -> None:
    assert set(UNFINISHED_STATES) | FINAL_STATES == set(JobState)
    assert set(UNFINISHED_STATES) & FINAL_STATES == set()
    assert JobState.SUBMITTING in UNFINISHED_STATES
