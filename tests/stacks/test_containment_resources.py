"""Containment and confused-deputy guards (issue 10): the revoker's concurrency, the ledger's expiry, the alarm on
rejected notifications, who may publish to the revocation topic, and the conditions on service principals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from stack_synthesis import STACK_NAME
from template_queries import function_id, resources

import app as app_module
from stacks.settings import Settings

NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
ACCOUNT = {"Ref": "AWS::AccountId"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def event_source_of(template_json: dict[str, Any], handler_folder: str) -> dict[str, Any]:
    function = function_id(template_json, handler_folder)
    mappings: list[dict[str, Any]] = [
        m["Properties"]
        for m in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function}
    ]
    (mapping,) = mappings
    return mapping


def policy_statements(template_json: dict[str, Any], kind: str, prefix: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in resources(template_json, kind).items() if k.startswith(prefix)]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


# ---- containment ----------------------------------------------------------------------------------------------


def test_revoker_event_source_has_a_maximum_concurrency(template_json: dict[str, Any]) -> None:
    assert event_source_of(template_json, "revoker")["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_revoker_maximum_concurrency_is_a_context_setting(tmp_path: Path) -> None:
    app_module.build_app({**NO_BUNDLING, "doverunner:revokerMaxConcurrency": 5}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / f"{STACK_NAME}.template.json").read_text())

    assert event_source_of(template, "revoker")["ScalingConfig"] == {"MaximumConcurrency": 5}


@pytest.mark.parametrize("value", [0, 1, 1001])
def test_revoker_maximum_concurrency_outside_lambdas_bounds_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="revokerMaxConcurrency"):
        Settings(revoker_max_concurrency=value).validate()


def test_ledger_items_expire_on_ttl_epoch(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "ttl_epoch", "Enabled": True},
        },
    )


def test_jobs_table_has_no_expiry(template_json: dict[str, Any]) -> None:
    (jobs,) = [t for k, t in resources(template_json, "AWS::DynamoDB::Table").items() if k.startswith("Jobs")]

    assert "TimeToLiveSpecification" not in jobs["Properties"]


def test_rejected_notifications_alarm_sums_invalid_unverified_and_refused_to_the_operator_topic(
    template_json: dict[str, Any],
) -> None:
    (alarm,) = [a for k, a in resources(template_json, "AWS::CloudWatch::Alarm").items() if "Rejected" in k]
    (operator_topic,) = [
        k for k in resources(template_json, "AWS::SNS::Topic") if k.startswith("ObservabilityOperator")
    ]
    metrics = alarm["Properties"]["Metrics"]
    (expression,) = [m for m in metrics if "Expression" in m]
    names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}

    assert sorted(names.values()) == ["InvalidNotifications", "NotificationsRefused", "RevocationsNotVerified"]
    assert all(f"FILL({metric_id}, 0)" in expression["Expression"] for metric_id in names)
    assert expression["Expression"].count("+") == 2
    assert expression["ReturnData"] is True
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": operator_topic}]
    assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


# ---- who may publish to the revocation topic ------------------------------------------------------------------


def test_revocation_topic_denies_publishing_to_principals_of_other_accounts(template_json: dict[str, Any]) -> None:
    statements = policy_statements(template_json, "AWS::SNS::TopicPolicy", "RevocationRevocationTopic")

    assert {
        "Action": "sns:Publish",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Ref": next(k for k in resources(template_json, "AWS::SNS::Topic") if k.startswith("Revocation"))},
        "Sid": "PublishOnlyFromThisAccount",
    } in statements


def test_revocation_topic_allows_only_the_publisher_user_by_name(template_json: dict[str, Any]) -> None:
    statements = policy_statements(template_json, "AWS::SNS::TopicPolicy", "RevocationRevocationTopic")
    (user,) = resources(template_json, "AWS::IAM::User")
    allows = [s for s in statements if s["Effect"] == "Allow"]

    assert [(s["Action"], s["Principal"]) for s in allows] == [("sns:Publish", {"AWS": {"Fn::GetAtt": [user, "Arn"]}})]


# ---- conditions on service principals -------------------------------------------------------------------------


def test_topic_key_lets_only_this_accounts_cloudwatch_alarms_use_it(template_json: dict[str, Any]) -> None:
    (key,) = resources(template_json, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]

    assert cloudwatch  # the alarms still publish to the encrypted operator topic
    for statement in cloudwatch:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
        assert ":alarm:*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
        assert set(as_list(statement["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_every_service_principal_in_the_key_policy_is_bound_to_the_account(template_json: dict[str, Any]) -> None:
    (key,) = resources(template_json, "AWS::KMS::Key").values()
    services = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]

    assert services
    assert all("aws:SourceAccount" in json.dumps(s.get("Condition", {})) for s in services)


def test_ingest_queue_accepts_s3_events_of_the_inbox_bucket_of_this_account_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Condition": {
                                    "ArnLike": {
                                        "aws:SourceArn": {"Fn::GetAtt": [Match.string_like_regexp("Inbox"), "Arn"]}
                                    },
                                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_no_s3_statement_of_a_queue_policy_lacks_the_account_condition(template_json: dict[str, Any]) -> None:
    statements = [
        s
        for p in resources(template_json, "AWS::SQS::QueuePolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "s3.amazonaws.com"}
    ]

    assert len(statements) == 1
    assert statements[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_s3_notifications_are_configured_after_the_queue_policy(template_json: dict[str, Any]) -> None:
    (notifications,) = resources(template_json, "Custom::S3BucketNotifications").values()

    assert any(d.startswith("IngestIngestQueuePolicy") for d in notifications["DependsOn"])
