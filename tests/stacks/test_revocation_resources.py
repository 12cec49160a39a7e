"""The revocation resources in the synthesized template."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from template_queries import actions_of, function_id, resources, role_statements

from stacks.revocation import web_acl_parts


def test_notifications_reach_the_revoker_through_a_queue_with_a_dead_letter_queue(
    template_json: dict[str, Any],
) -> None:
    subscriptions = resources(template_json, "AWS::SNS::Subscription").values()
    queues = resources(template_json, "AWS::SQS::Queue")
    (queue_id,) = [k for k in queues if k.startswith("RevocationRevocationQueue")]

    assert [s["Properties"]["Protocol"] for s in subscriptions] == ["sqs"]
    assert queues[queue_id]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


def test_revoker_reads_the_queue_with_partial_batch_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10}
    )


def test_ledger_has_point_in_time_recovery_and_an_expiry_index(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "by-state-expiry"})],
        },
    )


def web_acl_condition(template_json: dict[str, Any]) -> str:
    (acl,) = resources(template_json, "AWS::WAFv2::WebACL").values()
    return str(acl["Condition"])


def test_in_us_east_1_the_stack_creates_the_cloudfront_web_acl_itself(template_json: dict[str, Any]) -> None:
    (acl,) = resources(template_json, "AWS::WAFv2::WebACL").values()

    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    assert template_json["Conditions"][acl["Condition"]] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_in_any_other_region_a_custom_resource_creates_the_web_acl_in_us_east_1(template_json: dict[str, Any]) -> None:
    inside = web_acl_condition(template_json)
    (custom_id,) = resources(template_json, "Custom::CloudFrontWebAcl")
    creator = [k for k in template_json["Resources"] if k.startswith("RevocationCrossRegionWebAcl")]
    (creator_function,) = [k for k in creator if template_json["Resources"][k]["Type"] == "AWS::Lambda::Function"]
    outside = template_json["Resources"][custom_id]["Condition"]

    assert template_json["Conditions"][outside] == {"Fn::Not": [template_json["Conditions"][inside]]}
    assert {template_json["Resources"][k].get("Condition") for k in creator} == {outside}
    assert template_json["Resources"][creator_function]["Properties"]["Handler"] == "webacl.handler.lambda_handler"


def test_the_functions_and_the_output_use_the_web_acl_that_exists_in_the_stacks_region(
    template_json: dict[str, Any],
) -> None:
    inside = web_acl_condition(template_json)
    (acl_id,) = resources(template_json, "AWS::WAFv2::WebACL")
    (custom_id,) = resources(template_json, "Custom::CloudFrontWebAcl")
    revoker = template_json["Resources"][function_id(template_json, "revoker")]

    environment = revoker["Properties"]["Environment"]["Variables"]
    assert environment["WEB_ACL_ID"] == {
        "Fn::If": [inside, {"Fn::GetAtt": [acl_id, "Id"]}, {"Fn::GetAtt": [custom_id, "Id"]}]
    }
    assert template_json["Outputs"]["WebAclArn"]["Value"] == {
        "Fn::If": [inside, {"Fn::GetAtt": [acl_id, "Arn"]}, {"Fn::GetAtt": [custom_id, "Arn"]}]
    }


def test_the_web_acl_creator_may_manage_only_the_stacks_web_acl(template_json: dict[str, Any]) -> None:
    statements = role_statements(template_json, "webacl")
    (manage,) = [s for s in statements if "wafv2:CreateWebACL" in s["Action"]]

    assert {a for a in actions_of(statements) if a.startswith("wafv2:")} == {
        "wafv2:CreateWebACL",
        "wafv2:GetWebACL",
        "wafv2:DeleteWebACL",
        "wafv2:ListWebACLs",
    }
    assert "wafv2:UpdateWebACL" not in actions_of(statements)
    rendered = "".join(p if isinstance(p, str) else "<>" for p in manage["Resource"]["Fn::Join"][1])
    assert rendered.endswith(":wafv2:us-east-1:<>:global/webacl/<>-session-blocks/*")


@pytest.mark.parametrize("handler", ["revoker", "lifter"])
def test_revocation_functions_may_change_only_the_web_acl_and_the_ledger(
    template_json: dict[str, Any], handler: str
) -> None:
    statements = role_statements(template_json, handler)
    waf = [s for s in statements if "wafv2:UpdateWebACL" in s["Action"]]

    assert {a for a in actions_of(statements) if a.startswith("wafv2:")} == {"wafv2:GetWebACL", "wafv2:UpdateWebACL"}
    assert waf[0]["Resource"]["Fn::If"][1]["Fn::GetAtt"] == [
        next(iter(resources(template_json, "AWS::WAFv2::WebACL"))),
        "Arn",
    ]
    # Never the videos: at most the reports (the revoker rewrites a finished job's report, reading the current one).
    s3_resources = {s["Resource"]["Fn::Join"][1][1] for s in statements if "s3:GetObject" in actions_of([s])}
    assert s3_resources <= {"/results/*"}


def test_revoker_may_wake_only_the_tracking_state_machine(template_json: dict[str, Any]) -> None:
    (machine_id,) = resources(template_json, "AWS::StepFunctions::StateMachine")

    wakes = [s for s in role_statements(template_json, "revoker") if "states:SendTaskSuccess" in s["Action"]]

    assert [(w["Action"], w["Resource"]) for w in wakes] == [("states:SendTaskSuccess", {"Ref": machine_id})]
    assert "states:SendTaskSuccess" not in actions_of(role_statements(template_json, "lifter"))


def test_lifter_runs_every_five_minutes(template: Template) -> None:
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})


def test_an_existing_web_acl_is_named_by_its_arn() -> None:
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cdn-acl/a1b2c3d4-0000-1111-2222-333344445555"

    assert web_acl_parts(arn) == ("cdn-acl", "a1b2c3d4-0000-1111-2222-333344445555")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y",
        "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x/y",
        "not an arn",
    ],
)
def test_a_web_acl_arn_that_is_not_cloudfront_scope_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="CloudFront"):
        web_acl_parts(arn)
