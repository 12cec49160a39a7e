"""What the functions read from their events and their environment, and what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from antipiracy.config import ConfigError, PipelineConfig
from antipiracy.domain.requests import ResubmitRequest
from antipiracy.events import check_input, refs_from_message, requests_from_message

# ---- the ingest queue ---------------------------------------------------------------------------------------------


def test_s3_test_event_names_no_object() -> None:
    assert refs_from_message({"Event": "s3:TestEvent", "Service": "Amazon S3"}) == []


@pytest.mark.parametrize("body", [[1], {"Records": []}, {"hello": "world"}, "text"])
def test_message_that_is_no_s3_event_is_an_error(body: object) -> None:
    with pytest.raises(ValueError, match="not"):
        refs_from_message(body)


def test_resubmit_message_is_read_from_the_ingest_queue() -> None:
    body = {"type": "doverunner.resubmit", "job_id": "job-1", "uploads": 2}

    assert requests_from_message(body) == [ResubmitRequest("job-1", 2)]


@pytest.mark.parametrize("body", [{"type": "doverunner.resubmit"}, {"type": "doverunner.resubmit", "job_id": "j"}])
def test_resubmit_message_without_its_fields_is_an_error(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="job_id and the number of uploads"):
        requests_from_message(body)


# ---- the Check step ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "missing"),
    [({"task_token": "t"}, "job_id"), ({"job_id": "job-1"}, "task_token")],
)
def test_check_step_refuses_a_payload_without_what_it_needs(event: dict[str, Any], missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        check_input(event)


# ---- the environment ----------------------------------------------------------------------------------------------


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBS_TABLE", raising=False)

    with pytest.raises(ConfigError, match="JOBS_TABLE"):
        PipelineConfig.from_env({"DOVERUNNER_SECRET_ID": "s", "DOVERUNNER_SITE_ID": "DEMO"})


def test_a_poll_as_short_as_the_longest_wait_is_refused_when_notifications_are_registered() -> None:
    env = {"JOBS_TABLE": "jobs", "DOVERUNNER_SECRET_ID": "s", "DOVERUNNER_SITE_ID": "DEMO"}
    settings = {"MAX_WAIT_SECONDS": "900", "POLL_SECONDS": "900", "NOTIFICATIONS_REGISTERED": "true"}

    with pytest.raises(ConfigError, match="POLL_SECONDS"):
        PipelineConfig.from_env({**env, **settings})
