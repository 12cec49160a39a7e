"""`doverunner revocations`: an operator lists, blocks and unblocks sessions of a stack found by its outputs."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_clients import REGION, unique_name
from web_acls import WebAcl

from antipiracy.adapters.waf_blocker import SessionBlocker
from doverunner_cli.main import main


@dataclass(frozen=True)
class Stack:
    name: str
    web_acl: WebAcl
    wafv2: Any


@pytest.fixture
def stack(
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    web_acl: WebAcl,
    monkeypatch: pytest.MonkeyPatch,
) -> Stack:
    """A stack in the local AWS whose outputs name a revocation ledger and a web ACL, as the real one's do."""
    name = unique_name("s")
    aws_resource("dynamodb").create_table(
        TableName=f"{name}-ledger",
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "RevocationLedgerTableName": {"Value": f"{name}-ledger"},
            "WebAclArn": {"Value": web_acl.arn},
        },
    }
    aws_client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    for key, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
                       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    return Stack(name, web_acl, aws_client("wafv2"))


def cli(*args: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def blocked(stack: Stack) -> set[str]:
    return SessionBlocker(stack.wafv2, stack.web_acl.target).blocked()


def test_operator_blocks_a_token_and_sees_it_in_the_list(stack: Stack) -> None:
    code, result, _ = cli(
        "revocations", "block", "Zm9vYmFyYmF6cXV4+/==", "--stack", stack.name, "--reason", "seen on a pirate site"
    )
    _, listing, _ = cli("revocations", "list", "--stack", stack.name)

    assert code == 0
    assert result["token"] == "Zm9vYmFyYmF6cXV4-_"
    assert blocked(stack) == {"Zm9vYmFyYmF6cXV4-_"}
    assert [(r["token"], r["state"], r["reason"]) for r in listing["revocations"]] == [
        ("Zm9vYmFyYmF6cXV4-_", "BLOCKED", "seen on a pirate site")
    ]


def test_operator_unblocks_a_token(stack: Stack) -> None:
    cli("revocations", "block", "Zm9vYmFyYmF6cXV4", "--stack", stack.name)

    code, result, _ = cli("revocations", "unblock", "Zm9vYmFyYmF6cXV4", "--stack", stack.name)
    _, listing, _ = cli("revocations", "list", "--stack", stack.name, "--state", "LIFTED")

    assert (code, result) == (0, {"unblocked": ["Zm9vYmFyYmF6cXV4"]})
    assert [r["token"] for r in listing["revocations"]] == ["Zm9vYmFyYmF6cXV4"]


def test_a_stack_without_revocation_is_named_in_the_error(stack: Stack) -> None:
    code, _, err = cli("revocations", "list", "--stack", "NoSuchStack")

    assert code == 1
    assert "NoSuchStack" in err


def test_a_token_that_is_not_base64_is_refused(stack: Stack) -> None:
    code, _, err = cli("revocations", "block", "not a token!", "--stack", stack.name)

    assert code == 1
    assert "not a base64 revoke token" in err
