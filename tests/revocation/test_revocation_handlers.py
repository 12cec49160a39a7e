"""The revocation functions as Lambda calls them: the real WAF engine on the local AWS's wafv2."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from lambda_context import FakeContext
from tables import create_jobs_table, create_ledger_table

from antipiracy import process_cache, wiring
from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.waf_rules import WafTarget, url_safe
from doverunner_local.server import LocalDoveRunner

REGION = "us-east-1"


def clear_caches() -> None:
    process_cache.reset()


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="y"
    )


@pytest.fixture
def deployed(moto_endpoint: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    name = f"v{uuid.uuid4().hex[:10]}"
    dynamodb = boto3.resource(
        "dynamodb", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="x", aws_secret_access_key="y"
    )
    create_ledger_table(dynamodb, f"{name}-ledger")
    create_jobs_table(dynamodb, f"{name}-jobs")
    waf = aws("wafv2", moto_endpoint)
    acl = waf.create_web_acl(
        Name=name,
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name},
    )["Summary"]
    secret = {
        "site_key": env["DOVERUNNER_SITE_KEY"],
        "access_key": env["DOVERUNNER_ACCESS_KEY"],
        "account_id": env["DOVERUNNER_ACCOUNT_ID"],
    }
    secret_arn = aws("secretsmanager", moto_endpoint).create_secret(
        Name=f"{name}-creds", SecretString=json.dumps(secret)
    )["ARN"]
    dlq = aws("sqs", moto_endpoint).create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    values = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "LEDGER_TABLE": f"{name}-ledger",
        "JOBS_TABLE": f"{name}-jobs",
        "DOVERUNNER_SECRET_ID": secret_arn,
        "DOVERUNNER_SITE_ID": "DEMO",
        "DOVERUNNER_API_URL": env["DOVERUNNER_API_URL"],
        "WEB_ACL_NAME": acl["Name"],
        "WEB_ACL_ID": acl["Id"],
        "DEAD_LETTER_QUEUE_URL": dlq,
        "BLOCK_SECONDS": "0",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    clear_caches()
    yield {**values, "ENDPOINT": moto_endpoint}
    clear_caches()


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {}, "messageAttributes": {},
             "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
             "awsRegion": REGION}
            for i, body in enumerate(bodies)
        ]
    }  # fmt: skip


def engine(deployed: dict[str, str]) -> SessionBlocker:
    target = WafTarget(web_acl_name=deployed["WEB_ACL_NAME"], web_acl_id=deployed["WEB_ACL_ID"])
    return SessionBlocker(aws("wafv2", deployed["ENDPOINT"]), target)


def test_watermark_notification_blocks_the_session_in_waf(
    deployed: dict[str, str], local_doverunner: LocalDoveRunner
) -> None:
    from revoker.handler import lambda_handler

    token = local_doverunner.emulator.sessions["0000000000000001"].revoke_token
    message = json.dumps(
        {
            "detection_id": 1001,
            "detection_status": "FD004",
            "forensic_mark": "0000000000000001",
            "watermark_token": token,
        }
    )

    response = lambda_handler(sqs_event(json.dumps({"Type": "Notification", "Message": message})), FakeContext())

    assert response == {"batchItemFailures": []}
    assert engine(deployed).blocked() == {url_safe(token)}


def envelope(message: dict[str, Any]) -> str:
    return json.dumps({"Type": "Notification", "Message": json.dumps(message)})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "the message is not JSON"),
        (envelope({"detection_status": "FD004"}), "detection_id"),
        (envelope({"detection_id": "1001", "detection_status": ["FD004"]}), "detection"),
        (envelope({"detection_id": 1, "detection_status": "FD004", "watermark_token": "A" * 200_000}), "more than"),
    ],
    ids=["not-json", "missing-field", "wrong-types", "huge-token"],
)
def test_invalid_notification_goes_to_the_dead_letter_queue_with_its_reason(
    deployed: dict[str, str], body: str, reason: str
) -> None:
    from revoker.handler import lambda_handler

    response = lambda_handler(sqs_event(body), FakeContext())

    sqs = aws("sqs", deployed["ENDPOINT"])
    (message,) = sqs.receive_message(QueueUrl=deployed["DEAD_LETTER_QUEUE_URL"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert response == {"batchItemFailures": []}
    assert message["Body"] == body
    assert reason in message["MessageAttributes"]["reason"]["StringValue"]
    assert engine(deployed).blocked() == set()


def test_lifter_lifts_expired_blocks_and_reports_capacity(
    deployed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lifter.handler import lambda_handler

    monkeypatch.setenv("BLOCK_SECONDS", "1")
    clear_caches()
    wiring.revoker().block_manually("Zm9vYmFyYmF6cXV4", "test")
    import time

    time.sleep(1.1)
    result = lambda_handler({}, FakeContext())

    assert result["lifted"] == ["Zm9vYmFyYmF6cXV4"]
    assert result["wcu_limit"] == 1500
