"""`doverunner revocations`: an operator lists, blocks and unblocks sessions of a stack found by its outputs."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import boto3
import pytest

from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.waf_rules import WafTarget
from doverunner_cli.main import main

REGION = "us-east-1"


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    keys = {
        "region_name": REGION,
        "endpoint_url": moto_endpoint,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "y",
    }
    name = f"s{uuid.uuid4().hex[:10]}"
    boto3.resource("dynamodb", **keys).create_table(
        TableName=f"{name}-ledger",
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    acl = boto3.client("wafv2", **keys).create_web_acl(
        Name=name,
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name},
    )["Summary"]
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "RevocationLedgerTableName": {"Value": f"{name}-ledger"},
            "WebAclArn": {"Value": acl["ARN"]},
        },
    }
    boto3.client("cloudformation", **keys).create_stack(StackName=name, TemplateBody=json.dumps(template))
    for key, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return {"name": name, "acl_name": acl["Name"], "acl_id": acl["Id"], "endpoint": moto_endpoint}


def cli(*args: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def blocked(stack: dict[str, str]) -> set[str]:
    waf = boto3.client(
        "wafv2", region_name=REGION, endpoint_url=stack["endpoint"], aws_access_key_id="x", aws_secret_access_key="y"
    )
    return SessionBlocker(waf, WafTarget(web_acl_name=stack["acl_name"], web_acl_id=stack["acl_id"])).blocked()


def test_operator_blocks_a_token_and_sees_it_in_the_list(stack: dict[str, str]) -> None:
    code, result, _ = cli(
        "revocations", "block", "Zm9vYmFyYmF6+/==", "--stack", stack["name"], "--reason", "seen on a pirate site"
    )
    _, listing, _ = cli("revocations", "list", "--stack", stack["name"])

    assert code == 0
    assert result["token"] == "Zm9vYmFyYmF6-_"
    assert blocked(stack) == {"Zm9vYmFyYmF6-_"}
    assert [(r["token"], r["state"], r["reason"]) for r in listing["revocations"]] == [
        ("Zm9vYmFyYmF6-_", "BLOCKED", "seen on a pirate site")
    ]


def test_operator_unblocks_a_token(stack: dict[str, str]) -> None:
    cli("revocations", "block", "Zm9vYmFyYmF6", "--stack", stack["name"])

    code, result, _ = cli("revocations", "unblock", "Zm9vYmFyYmF6", "--stack", stack["name"])
    _, listing, _ = cli("revocations", "list", "--stack", stack["name"], "--state", "LIFTED")

    assert (code, result) == (0, {"unblocked": ["Zm9vYmFyYmF6"]})
    assert [r["token"] for r in listing["revocations"]] == ["Zm9vYmFyYmF6"]


def test_a_stack_without_revocation_is_named_in_the_error(stack: dict[str, str]) -> None:
    code, _, err = cli("revocations", "list", "--stack", "NoSuchStack")

    assert code == 1
    assert "NoSuchStack" in err


def test_a_token_that_is_not_base64_is_refused(stack: dict[str, str]) -> None:
    code, _, err = cli("revocations", "block", "not a token!", "--stack", stack["name"])

    assert code == 1
    assert "not a base64 revoke token" in err
