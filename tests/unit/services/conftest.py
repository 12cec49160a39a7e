"""The services over in-memory ports (tests/support/fakes.py): no server, no socket, no sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeDoveRunner, MemoryExecutions, MemoryJobs, MemoryObjects, MemoryResultsTopic
from settings import pipeline_settings

from antipiracy.config import PipelineConfig
from antipiracy.domain.jobs import JobState, dr_title, now_iso
from antipiracy.domain.preflight import Policy
from antipiracy.services.report import Reports
from antipiracy.services.submit import Submitter

BUCKET = "inbox-bucket"
SUBMITTED_AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def submitted_at() -> datetime:
    """When the jobs of `tracked_job` were submitted: checks are made at moments counted from it."""
    return SUBMITTED_AT


@pytest.fixture
def config() -> PipelineConfig:
    return pipeline_settings(
        api_url="https://doverunner.invalid",
        state_machine_arn=MemoryExecutions.STATE_MACHINE_ARN,
        results_topic_arn="arn:aws:sns:us-east-1:123456789012:results",
        url_detection_threshold=1024,
        preflight=Policy.OFF,  # the fake objects are a few bytes, no video; the check has tests of its own
    )


@pytest.fixture
def jobs() -> MemoryJobs:
    return MemoryJobs()


@pytest.fixture
def objects() -> MemoryObjects:
    return MemoryObjects()


@pytest.fixture
def executions() -> MemoryExecutions:
    return MemoryExecutions()


@pytest.fixture
def doverunner() -> FakeDoveRunner:
    return FakeDoveRunner()


@pytest.fixture
def results() -> MemoryResultsTopic:
    return MemoryResultsTopic()


@pytest.fixture
def reports(objects: MemoryObjects, config: PipelineConfig) -> Reports:
    return Reports(objects, config.results_prefix)


@pytest.fixture
def make_submitter(
    objects: MemoryObjects,
    jobs: MemoryJobs,
    executions: MemoryExecutions,
    doverunner: FakeDoveRunner,
    config: PipelineConfig,
) -> Callable[..., Submitter]:
    """A Submitter over the fakes; keyword arguments change the configuration, `with_` ones give its optional
    collaborators (results, holds, remote_media)."""

    def make(**changes: Any) -> Submitter:
        given = {
            name: changes.pop(f"with_{name}")
            for name in ("results", "holds", "remote_media")
            if f"with_{name}" in changes
        }
        return Submitter(
            objects=objects,
            jobs=jobs,
            executions=executions,
            client_factory=lambda: doverunner,
            config=replace(config, **changes),
            **given,
        )

    return make


@pytest.fixture
def submitter(make_submitter: Callable[..., Submitter]) -> Submitter:
    return make_submitter()


@pytest.fixture
def tracked_job(jobs: MemoryJobs) -> Callable[..., str]:
    """A job handed to tracking at SUBMITTED_AT (an upload of inbox/movie.mp4); keyword arguments are set on it."""
    count = [0]

    def make(**fields: Any) -> str:
        count[0] += 1
        job_id = f"job-{count[0]:040d}"
        jobs.create(
            {
                "job_id": job_id,
                "bucket": BUCKET,
                "key": "inbox/movie.mp4",
                "version_id": "v0001",
                "size": 2048,
                "title": "movie.mp4",
                "dr_title": dr_title("movie.mp4", job_id),
                "service": "PD002",
                "method": "upload",
                "extension": "mp4",
            }
        )
        jobs.update(
            job_id,
            {"state": JobState.TRACKING.value, "submitted_at": now_iso(SUBMITTED_AT), "uploads": 1, **fields},
        )
        return job_id

    return make
