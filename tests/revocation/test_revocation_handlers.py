"""The revocation functions as Lambda calls them: the real WAF engine on the local AWS's wafv2."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_clients import unique_name
from lambda_context import FakeContext
from lambda_environment import LambdaEnvironment
from lambda_events import sns_notification, sqs_event, watermark_found
from tables import create_jobs_table, create_ledger_table
from web_acls import WebAcl

from antipiracy import wiring
from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.waf_rules import url_safe
from doverunner_local.server import LocalDoveRunner


@pytest.fixture
def lambda_env(
    lambda_env: LambdaEnvironment,
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    web_acl: WebAcl,
    monkeypatch: pytest.MonkeyPatch,
) -> LambdaEnvironment:
    """The revocation functions' environment: the test's own ledger, jobs table, web ACL and dead-letter queue."""
    name = unique_name("v")
    create_ledger_table(aws_resource("dynamodb"), f"{name}-ledger")
    create_jobs_table(aws_resource("dynamodb"), f"{name}-jobs")
    lambda_env.set(
        LEDGER_TABLE=f"{name}-ledger",
        JOBS_TABLE=f"{name}-jobs",
        WEB_ACL_NAME=web_acl.name,
        WEB_ACL_ID=web_acl.id,
        DEAD_LETTER_QUEUE_URL=aws_client("sqs").create_queue(QueueName=f"{name}-dlq")["QueueUrl"],
        BLOCK_SECONDS="0",
    )
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    return lambda_env


def blocked(aws_client: Callable[..., Any], web_acl: WebAcl) -> set[str]:
    return SessionBlocker(aws_client("wafv2"), web_acl.target).blocked()


def test_watermark_notification_blocks_the_session_in_waf(
    lambda_env: LambdaEnvironment,
    local_doverunner: LocalDoveRunner,
    aws_client: Callable[..., Any],
    web_acl: WebAcl,
    ended_detection: Callable[..., int],
) -> None:
    from revoker.handler import lambda_handler

    token = local_doverunner.emulator.sessions["0000000000000001"].revoke_token

    response = lambda_handler(sqs_event(watermark_found(ended_detection(), token)), FakeContext())

    assert response == {"batchItemFailures": []}
    assert blocked(aws_client, web_acl) == {url_safe(token)}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "the message is not JSON"),
        (sns_notification({"detection_status": "FD004"}), "detection_id"),
        (sns_notification({"detection_id": "1001", "detection_status": ["FD004"]}), "detection"),
        (
            sns_notification({"detection_id": 1, "detection_status": "FD004", "watermark_token": "A" * 200_000}),
            "more than",
        ),
        (
            sns_notification({"detection_id": 1, "detection_status": "FD004", "watermark_token": "A" * 27 + "=\n"}),
            "not base64",
        ),
        (sns_notification({"revoke_token": "segment-1", "site_id": "DEMO"}), "fewer than 16"),
    ],
    ids=["not-json", "missing-field", "wrong-types", "huge-token", "trailing-newline", "too-short"],
)
def test_invalid_notification_goes_to_the_dead_letter_queue_with_its_reason(
    lambda_env: LambdaEnvironment, aws_client: Callable[..., Any], web_acl: WebAcl, body: str, reason: str
) -> None:
    from revoker.handler import lambda_handler

    response = lambda_handler(sqs_event(body), FakeContext())

    sqs = aws_client("sqs")
    (message,) = sqs.receive_message(
        QueueUrl=lambda_env.values["DEAD_LETTER_QUEUE_URL"], MessageAttributeNames=["All"]
    )["Messages"]
    assert response == {"batchItemFailures": []}
    assert message["Body"] == body
    assert reason in message["MessageAttributes"]["reason"]["StringValue"]
    assert blocked(aws_client, web_acl) == set()


def test_lifter_lifts_expired_blocks_and_reports_capacity(lambda_env: LambdaEnvironment) -> None:
    from lifter.handler import lambda_handler

    lambda_env.set(BLOCK_SECONDS="1")
    wiring.revoker().block_manually("Zm9vYmFyYmF6cXV4", "test")

    time.sleep(1.1)
    result = lambda_handler({}, FakeContext())

    assert result["lifted"] == ["Zm9vYmFyYmF6cXV4"]
    assert result["wcu_limit"] == 1500


@pytest.fixture
def waf_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The GetWebACL and UpdateWebACL calls the local AWS (in this process) answers from now on, by name."""
    from moto.wafv2.responses import WAFV2Response

    calls: list[str] = []
    for name in ("get_web_acl", "update_web_acl"):
        original = getattr(WAFV2Response, name)

        def counted(self: Any, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(WAFV2Response, name, counted)
    return calls


def sessions(local: LocalDoveRunner, count: int) -> list[tuple[str, str]]:
    """`count` sessions the local DoveRunner knows: (forensic mark, revoke token)."""
    made = [local.emulator.add_session(f"{0xB000 + n:016x}", f"session_id=batch-{n}") for n in range(count)]
    return [(session.forensic_mark, session.revoke_token) for session in made]


def test_a_batch_of_ten_notifications_blocks_ten_sessions_with_one_web_acl_read_and_write(
    lambda_env: LambdaEnvironment,
    local_doverunner: LocalDoveRunner,
    aws_client: Callable[..., Any],
    web_acl: WebAcl,
    ended_detection: Callable[..., int],
    waf_calls: list[str],
) -> None:
    from revoker.handler import lambda_handler

    batch = [watermark_found(ended_detection(mark=mark), token, mark) for mark, token in sessions(local_doverunner, 10)]

    response = lambda_handler(sqs_event(*batch), FakeContext())
    made = list(waf_calls)

    assert response == {"batchItemFailures": []}
    assert made == ["get_web_acl", "update_web_acl"]
    assert len(blocked(aws_client, web_acl)) == 10


def test_in_a_batch_only_the_notification_that_could_not_be_checked_is_delivered_again(
    lambda_env: LambdaEnvironment,
    local_doverunner: LocalDoveRunner,
    aws_client: Callable[..., Any],
    web_acl: WebAcl,
    ended_detection: Callable[..., int],
) -> None:
    from revoker.handler import lambda_handler

    (mark, token), (other_mark, other_token) = sessions(local_doverunner, 2)
    unknown = ended_detection(mark=other_mark)
    local_doverunner.emulator.detections.pop(unknown)  # DoveRunner no longer knows it: refused, not retried
    # DoveRunner's token verification unreachable: every attempt the client makes answers 503. Only the genuine
    # notification gets that far; the refused one and the invalid one do not.
    failing = ended_detection(mark=mark)
    local_doverunner.config.faults.error_path = "/revoke-token/verify"
    local_doverunner.config.faults.next_errors = 100

    response = lambda_handler(
        sqs_event(watermark_found(failing, token, mark), "not json", watermark_found(unknown, other_token, other_mark)),
        FakeContext(),
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert blocked(aws_client, web_acl) == set()
